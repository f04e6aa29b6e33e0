using Xunit;

// One model at a time: each test seeds the global torch RNG and wants the collector thread to itself.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
