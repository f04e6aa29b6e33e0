using Akka.Actor;
using Distill.Actors.Flow;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

/// <summary>The coordinator's book of shards on its own: the credit window, lowest id first, attempts and their
/// limit, stale attempts, deadlines, revocation, duplicates, the cache queue and strict ordering.</summary>
public sealed class ShardBookTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private ShardBook Book(int shards, int window = 2, int attempts = 3, bool strict = false)
    {
        var book = new ShardBook(window, attempts, strict);
        book.Initialize(shards);
        return book;
    }

    private IActorRef Worker(string name) => CreateTestProbe(name).Ref;

    [Fact]
    public void Leases_go_out_lowest_id_first_while_in_flight_is_below_the_credit_window()
    {
        var book = Book(5, window: 2);
        var (worker, loader) = (Worker("w"), Worker("l"));
        Assert.Equal(0, book.Lease(worker, loader, Deadline).ShardId);
        Assert.Equal(1, book.Lease(worker, loader, Deadline).ShardId);
        Assert.False(book.CanLease);                                         // 2 leased = the window
        Assert.Throws<InvalidOperationException>(() => book.Lease(worker, loader, Deadline));

        book.Deliver(0, 1);
        Assert.Equal(2, book.InFlight);                                      // delivered, not consumed: still in flight
        Assert.False(book.CanLease);
        Assert.True(book.Consume(0));
        Assert.Equal((1, 1), (book.InFlight, book.Consumed));
        Assert.True(book.CanLease);
        Assert.Equal(2, book.Lease(worker, loader, Deadline).ShardId);
        Assert.Equal((3, 0, 2), (book.Issued, book.Reissued, book.WaitingForTeacher));
    }

    [Fact]
    public void A_failed_attempt_requeues_the_shard_until_its_attempts_are_used_up()
    {
        var book = Book(2, window: 2, attempts: 2);
        var (worker, loader) = (Worker("w"), Worker("l"));
        var first = book.Lease(worker, loader, Deadline);
        var again = book.Fail(first.ShardId, first.Attempt, "teacher threw");
        Assert.Equal((0, false, "teacher threw"), (again!.Value.ShardId, again.Value.Exhausted, again.Value.Reason));
        Assert.Equal(2, book.WaitingForTeacher);

        var second = book.Lease(worker, loader, Deadline);
        Assert.Equal((0, 2), (second.ShardId, second.Attempt));             // the same shard, its second attempt
        Assert.Null(book.Fail(0, 1, "late failure of the first attempt"));   // stale: the lease is attempt 2
        book.Deliver(0, 1);                                                  // stale delivery: ignored
        Assert.NotNull(book.CurrentLease(0, 2));

        Assert.Null(book.LastWorker(1));
        var last = book.Fail(0, 2, "teacher threw again");
        Assert.True(last!.Value.Exhausted);
        Assert.Equal(1, book.WaitingForTeacher);                             // shard 0 is not queued again
        Assert.Equal((2, 1, 2), (book.Issued, book.Reissued, book.Attempts(0)));
    }

    [Fact]
    public void Leases_past_their_deadline_expire_and_starting_inference_restarts_the_clock()
    {
        var book = Book(3, window: 3);
        var (worker, loader) = (Worker("w"), Worker("l"));
        book.Lease(worker, loader, TimeSpan.FromSeconds(1));
        book.Lease(worker, loader, TimeSpan.FromSeconds(1));
        book.Lease(worker, loader, TimeSpan.FromSeconds(5));
        book.Start(1, 1, TimeSpan.FromSeconds(4));

        var expired = book.Expire(TimeSpan.FromSeconds(2), lease => $"shard {lease.ShardId} timed out");
        Assert.Equal([(0, "shard 0 timed out")], expired.Select(r => (r.ShardId, r.Reason)));
        Assert.Equal(worker, book.LastWorker(0));                            // the stalled worker is not given it again
        Assert.Equal(0, book.NextToLease);
        Assert.True(book.CurrentLease(1, 1)!.Started);
        Assert.Equal([1, 2], book.Expire(TimeSpan.FromSeconds(5), _ => "late").Select(r => r.ShardId).Order());
        Assert.Equal(3, book.WaitingForTeacher);
    }

    [Fact]
    public void Revoking_a_dead_workers_leases_requeues_only_those()
    {
        var book = Book(4, window: 4);
        var (a, b, loader) = (Worker("a"), Worker("b"), Worker("l"));
        book.Lease(a, loader, Deadline);
        book.Lease(b, loader, Deadline);
        book.Lease(a, loader, Deadline);
        var revoked = book.Revoke(lease => lease.Worker.Equals(a), "worker a died");
        Assert.Equal([0, 2], revoked.Select(r => r.ShardId));
        Assert.All(revoked, r => Assert.Equal("worker a died", r.Reason));
        Assert.Equal([1], book.Leases.Select(l => l.ShardId));
        Assert.Equal(0, book.Lease(b, loader, Deadline).ShardId);          // lowest id first again
    }

    [Fact]
    public void A_shard_is_consumed_once_and_its_other_copies_are_dropped()
    {
        var book = Book(3, window: 3);
        var (worker, loader) = (Worker("w"), Worker("l"));
        var lease = book.Lease(worker, loader, Deadline);
        book.Expire(TimeSpan.FromSeconds(11), _ => "slow");                 // re-queued while the first copy still runs
        var copy = book.Lease(worker, loader, Deadline);
        Assert.Equal((lease.ShardId, 2), (copy.ShardId, copy.Attempt));

        Assert.True(book.Consume(0));                                        // the first copy arrived after all
        Assert.Null(book.CurrentLease(0, 2));                                // the second copy is no longer needed
        Assert.False(book.Consume(0));                                       // a duplicate
        Assert.False(book.Consume(-1));
        Assert.False(book.Consume(3));
        Assert.Equal((1, 0), (book.Consumed, book.InFlight));
        Assert.False(book.AllConsumed);
        book.Consume(1);
        book.Consume(2);
        Assert.True(book.AllConsumed);
    }

    [Fact]
    public void Cached_shards_are_read_instead_of_leased_and_a_bad_part_goes_to_a_teacher()
    {
        var book = Book(4, window: 2);
        book.MarkCached([1, 3]);
        Assert.Equal(2, book.WaitingForTeacher);
        Assert.True(book.CanReadCache);
        Assert.Equal(1, book.ReadFromCache());
        Assert.Equal(3, book.ReadFromCache());
        Assert.Equal(2, book.InFlight);
        Assert.False(book.CanLease);                                         // cache reads take credit too

        book.CacheMiss(3);                                                   // its part was bad
        Assert.Equal(3, book.WaitingForTeacher);
        Assert.False(book.CanReadCache);
        var (worker, loader) = (Worker("w"), Worker("l"));
        Assert.Equal(0, book.Lease(worker, loader, Deadline).ShardId);
        Assert.True(book.Consume(1));
        Assert.Equal(2, book.Lease(worker, loader, Deadline).ShardId);
        Assert.Equal((2, 0), (book.Issued, book.Reissued));                 // cache reads are not teacher leases
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void With_strict_order_the_lowest_unconsumed_shard_goes_out_even_when_the_window_is_full(bool strict, bool canLease)
    {
        // The trainer holds back cached shard 1 until shard 0 arrives; without the exception the window stays full.
        var book = Book(3, window: 1, strict: strict);
        book.MarkCached([1, 2]);
        Assert.Equal(1, book.ReadFromCache());
        Assert.Equal(canLease, book.CanLease);
        Assert.False(book.CanReadCache);                                     // shard 2 is not the lowest unconsumed
        if (!strict) return;
        var lease = book.Lease(Worker("w"), Worker("l"), Deadline);
        Assert.Equal((0, 2), (lease.ShardId, book.InFlight));                // window + 1 in flight at most
        book.Deliver(0, 1);
        book.Consume(0);
        book.Consume(1);
        Assert.True(book.CanReadCache);
    }

    [Fact]
    public void A_book_starts_once_and_refuses_a_negative_shard_count()
    {
        var book = new ShardBook(2, 3);
        Assert.False(book.CanLease);
        Assert.False(book.AllConsumed);
        Assert.Throws<ArgumentOutOfRangeException>(() => book.Initialize(-1));
        book.Initialize(2);
        book.Initialize(5);                                                  // ignored: the book is initialised
        Assert.Equal(2, book.Total);
        Assert.True(Book(0).AllConsumed);                                    // a stage without shards is done at once
    }
}
