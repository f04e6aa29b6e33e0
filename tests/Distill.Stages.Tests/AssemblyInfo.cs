using Xunit;

// Training tests use libtorch on every core and seed its global generator: run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
