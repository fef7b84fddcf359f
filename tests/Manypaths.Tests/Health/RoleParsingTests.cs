using Manypaths.Health.Roles;

namespace Manypaths.Tests.Health;

/// <summary>What the role checks read out of the servers' own answers: Redis 7's INFO replication, PostgreSQL's LSNs.</summary>
public sealed class RoleParsingTests
{
    private const string ReplId = "5b1a7d3c9e8f4a2b6c0d1e2f3a4b5c6d7e8f9a0b";

    /// <summary>INFO text as Redis sends it: CRLF after every line.</summary>
    private static string Info(params string[] lines) => string.Join("\r\n", lines) + "\r\n";

    private static readonly string[] MasterWithTwoReplicas =
    [
        "# Replication",
        "role:master",
        "connected_slaves:2",
        "slave0:ip=10.250.0.2,port=6379,state=online,offset=30148,lag=0",
        "slave1:ip=10.250.0.3,port=6379,state=online,offset=30148,lag=1",
        "master_failover_state:no-failover",
        $"master_replid:{ReplId}",
        "master_replid2:0000000000000000000000000000000000000000",
        "master_repl_offset:30148",
        "second_repl_offset:-1",
        "repl_backlog_active:1",
        "repl_backlog_size:1048576",
        "repl_backlog_first_byte_offset:1",
        "repl_backlog_histlen:30148",
    ];

    private static string[] Replica(string linkStatus = "up", int lastIo = 1, params string[] extra) =>
    [
        "# Replication",
        "role:slave",
        "master_host:10.250.0.1",
        "master_port:6379",
        $"master_link_status:{linkStatus}",
        $"master_last_io_seconds_ago:{lastIo}",
        "master_sync_in_progress:0",
        "slave_read_repl_offset:30148",
        "slave_repl_offset:29900",
        .. extra,
        "slave_priority:100",
        "slave_read_only:1",
        "replica_announced:1",
        "connected_slaves:0",
        "master_failover_state:no-failover",
        $"master_replid:{ReplId}",
        "master_replid2:0000000000000000000000000000000000000000",
        "master_repl_offset:30148",
        "second_repl_offset:-1",
        "repl_backlog_active:1",
        "repl_backlog_size:1048576",
        "repl_backlog_first_byte_offset:1",
        "repl_backlog_histlen:30148",
    ];

    [Fact]
    public void Redis_AMasterWithTwoReplicas_IsThePrimary_AtItsReplicationOffset()
    {
        var report = RedisReplicationInfo.Parse(Info(MasterWithTwoReplicas));

        Assert.Equal(ServerRole.Primary, report.Role);
        Assert.Equal(ReplId, report.History);
        Assert.Equal(30148, report.Position);
        Assert.Contains("2 replica(s) connected", report.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Redis_AReplicaWithItsLinkUp_FollowsItsMaster_AtItsOwnOffset()
    {
        var report = RedisReplicationInfo.Parse(Info(Replica()));

        Assert.Equal(ServerRole.Replica, report.Role);
        Assert.True(report.LinkUp);
        Assert.Equal("10.250.0.1:6379", report.Follows);
        Assert.Equal(ReplId, report.History); // the same history as its master's, so its lag can be measured
        Assert.Equal(29900, report.Position); // slave_repl_offset, not master_repl_offset
    }

    [Fact]
    public void Redis_AReplicaWhoseLinkIsDown_IsNotFollowing()
    {
        var report = RedisReplicationInfo.Parse(Info(Replica("down", -1, "master_link_down_since_seconds:7")));

        Assert.Equal(ServerRole.Replica, report.Role);
        Assert.False(report.LinkUp);
        Assert.Equal("10.250.0.1:6379", report.Follows);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(9, true)]
    [InlineData(10, false)]
    [InlineData(15, false)]
    [InlineData(-1, false)]
    public void Redis_AReplicaThatHeardNothingFromItsMasterFor10Seconds_IsNotFollowing_EvenIfItsLinkSaysUp(int lastIo, bool linkUp)
    {
        var report = RedisReplicationInfo.Parse(Info(Replica("up", lastIo)));
        Assert.Equal(linkUp, report.LinkUp);
    }

    [Fact]
    public void Redis_CrlfAndLfLineEndings_ReadTheSame_AndNoCarriageReturnLeaksIntoValues()
    {
        var crlf = RedisReplicationInfo.Parse(string.Join("\r\n", Replica()));
        var lf = RedisReplicationInfo.Parse(string.Join("\n", Replica()));

        Assert.Equal(lf, crlf);
        Assert.Equal(ReplId, crlf.History);
        Assert.Equal("10.250.0.1:6379", crlf.Follows);
        Assert.True(crlf.LinkUp); // "up\r" would have read as down

        var master = RedisReplicationInfo.Parse(string.Join("\r\n", MasterWithTwoReplicas));
        Assert.Equal((ServerRole.Primary, ReplId, 30148L), (master.Role, master.History, master.Position));
    }

    [Theory]
    [InlineData("")]
    [InlineData("# Replication\r\n")]
    [InlineData("-ERR unknown command")]
    public void Redis_AnAnswerWithoutARole_IsUnknown(string info)
    {
        var report = RedisReplicationInfo.Parse(info);
        Assert.Equal(ServerRole.Unknown, report.Role);
        Assert.NotNull(report.Detail);
    }

    [Theory]
    [InlineData("0/3000148", 0x3000148L)]
    [InlineData("0/0", 0L)]
    [InlineData("16/B374D848", 0x16_B374_D848L)]
    [InlineData("16/b374d848", 0x16_B374_D848L)]
    [InlineData("1/0", 0x1_0000_0000L)]
    public void Postgres_AnLsn_IsItsBytePosition(string lsn, long expected)
    {
        Assert.Equal(expected, PostgresRoleReader.ParseLsn(lsn));
    }

    [Fact]
    public void Postgres_TheHighHalfOfAnLsn_IsThe32BitsAboveTheLowHalf()
    {
        Assert.Equal((0x16L << 32) + 0xB374D848L, PostgresRoleReader.ParseLsn("16/B374D848"));
        Assert.Equal(0x148L, PostgresRoleReader.ParseLsn("0/3000148") - PostgresRoleReader.ParseLsn("0/3000000"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("3000148")]
    [InlineData("/3000148")]
    [InlineData("0/")]
    [InlineData("0/xyz")]
    [InlineData("zz/3000148")]
    [InlineData("0/3000148/1")]
    [InlineData("-1/3000148")]
    public void Postgres_NotAnLsn_IsNoPosition(string text)
    {
        Assert.Null(PostgresRoleReader.ParseLsn(text));
    }
}
