global using Xunit;

// Several tests run the whole pipeline with libtorch on every core; run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
