using Manypaths.Config;
using Manypaths.Health.Roles;
using Manypaths.Service;
using Manypaths.Telemetry;
using Microsoft.Extensions.Logging;

namespace Manypaths.Health;

/// <summary>
/// The active checks of one service for one config generation: the probe each upstream gets for the service's
/// 'health.check' (HTTP GET, TCP connect, or a role check judged by the service's <see cref="RoleBoard"/>), the
/// connections they keep, and the prober that runs them.
/// </summary>
internal sealed partial class ProbeSet : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<(string Name, IProbe Probe, UpstreamHealth Health)> _probes = [];
    private SentinelWatch? _sentinels;
    private Action? _unsubscribe;

    private ProbeSet(ServiceCore core, TimeProvider time, ManypathsMetrics metrics, ILoggerFactory loggers)
    {
        Prober = new ActiveProber(core.Name, core.Options.Health, time, metrics, loggers.CreateLogger("Manypaths.Health"), this);
    }

    public ActiveProber Prober { get; }

    public static ProbeSet Create(ServiceCore core, TimeProvider time, Mesh.FaultInjector? faults, ManypathsMetrics metrics, ILoggerFactory loggers)
    {
        var set = new ProbeSet(core, time, metrics, loggers);
        var check = core.Options.Health;
        if (check.Check == HealthCheckKind.Http)
        {
            var client = HttpProbe.CreateClient(check, time, faults);
            set._owned.Add(new SyncDisposer(client));
            set._probes.AddRange(core.Upstreams.Select(u => (u.Name, (IProbe)new HttpProbe(client, u.Options.Url, check), u.Health)));
            return set;
        }

        if (check.Check == HealthCheckKind.Tcp)
        {
            set._probes.AddRange(core.Upstreams.Select(u => (u.Name, (IProbe)new TcpProbe(u.Options.Url, time, faults), u.Health)));
            return set;
        }

        // A password file is read when the generation is built: a rotated password takes a reload (which re-reads it).
        string? password = null;
        if (check.PasswordFile is { } file)
        {
            try
            {
                password = File.ReadAllText(file).TrimEnd('\r', '\n');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Checked at load, gone or unreadable since: the checks fail with the server's own refusal, which
                // status shows, instead of the whole generation failing to start after it went live.
                Log.Unreadable(loggers.CreateLogger("Manypaths.Health"), core.Name, file, e.Message);
            }
        }
        foreach (var u in core.Upstreams)
        {
            IRoleReader reader = check.Check switch
            {
                HealthCheckKind.RedisPrimary or HealthCheckKind.RedisReplica => new RedisRoleReader(u.Options.Url, check, password),
                HealthCheckKind.PostgresPrimary or HealthCheckKind.PostgresStandby => new PostgresRoleReader(u.Options.Url, check, password),
                _ => new MySqlRoleReader(u.Options.Url, check, password),
            };
            set._owned.Add(reader);
            set._probes.Add((u.Name, new RoleProbe(u.Index, core.Roles!, reader), u.Health));
        }

        // A tie that may already be over (or a refusal that no longer holds) is checked again at once.
        var roles = core.Roles!;
        Action<int> recheck = i => set.Prober.Nudge(core.Upstreams[i].Name);
        roles.RecheckWanted += recheck;
        set._unsubscribe = () => roles.RecheckWanted -= recheck;

        if (core.Options.Tcp.Sentinels is { } sentinels)
        {
            set._sentinels = new SentinelWatch(sentinels, core.Roles!, check, time, loggers.CreateLogger("Manypaths.Health"));
        }

        return set;
    }

    public void Start()
    {
        _sentinels?.Start();
        Prober.Start(_probes);
    }

    /// <summary>Called by the prober once its loops stopped.</summary>
    async ValueTask IAsyncDisposable.DisposeAsync()
    {
        _unsubscribe?.Invoke();
        if (_sentinels is not null)
        {
            await _sentinels.DisposeAsync();
        }

        foreach (var o in _owned)
        {
            await o.DisposeAsync();
        }
    }

    private sealed class SyncDisposer(IDisposable inner) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            inner.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2103, EventName = "PasswordFileUnreadable", Level = LogLevel.Error,
            Message = "Service {Service}: cannot read password_file {File}: {Error}")]
        public static partial void Unreadable(ILogger logger, string service, string file, string error);
    }
}
