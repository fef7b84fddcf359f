using YamlDotNet.RepresentationModel;

namespace Manypaths.Config;

/// <summary>Reads one entry under 'services'.</summary>
internal sealed class ServiceReader(ConfigErrors errors, string baseDirectory, IReadOnlyDictionary<string, YamlNode> nodes)
{
    /// <summary>Keys that only mean something for mode: http.</summary>
    private static readonly string[] HttpOnlyKeys = ["retries", "retry_on", "retry_budget", "max_replay_body", "sorry", "forwarded", "http_version", "hedge", "warm_standby"];

    /// <summary>Keys that only mean something for mode: tcp.</summary>
    private static readonly string[] TcpOnlyKeys = ["on_demotion", "limits", "sentinels"];

    public ServiceOptions Read(string name, YamlMap map)
    {
        map.AllowOnly("mode", "listen", "upstreams", "health", "passive", "retries", "retry_on", "retry_budget", "timeouts",
            "max_replay_body", "sorry", "forwarded", "http_version", "relay", "hedge", "on_demotion", "limits", "sentinels", "warm_standby");
        var mode = ReadMode(map);
        var tcp = mode == ServiceMode.Tcp;
        foreach (var key in tcp ? HttpOnlyKeys : TcpOnlyKeys)
        {
            if (map.Raw(key) is { } raw)
            {
                errors.Add(raw, $"'{key}' in {map.Where} applies only to mode: {(tcp ? "http" : "tcp")} services; this one is mode: {(tcp ? "tcp" : "http")}.");
            }
        }

        var defaults = new ServiceOptions { Name = name, Upstreams = [] };
        var health = ReadHealth(map.Map("health"), mode);
        return defaults with
        {
            Mode = mode,
            Listen = ListenReader.Read(map, errors, nodes, required: true),
            Upstreams = ReadUpstreams(name, map, mode),
            Health = health,
            Passive = ReadPassive(map.Map("passive")),
            Retry = ReadRetry(map),
            Timeouts = ReadTimeouts(map.Map("timeouts"), mode),
            MaxReplayBody = map.Size("max_replay_body") ?? defaults.MaxReplayBody,
            Sorry = ReadSorry(map.Map("sorry")),
            Forwarded = ReadForwarded(map.Map("forwarded")),
            HttpVersion = ReadVersion(map),
            Relay = ReadRelay(map, out var policy),
            WarmStandby = map.Bool("warm_standby") ?? true,
            RelayPolicy = policy,
            // A connection is not a request: nothing to hedge (connect races still run).
            Hedge = tcp ? null : ReadHedge(map),
            Tcp = tcp ? ReadTcp(map, health) : defaults.Tcp,
        };
    }

    private ServiceMode ReadMode(YamlMap map)
    {
        var s = map.Scalar("mode");
        switch (s?.Value)
        {
            case null or "http":
                return ServiceMode.Http;
            case "tcp":
                return ServiceMode.Tcp;
            default:
                errors.Add(s, $"'mode' in {map.Where} must be http or tcp, not '{s.Value}'.");
                return ServiceMode.Http;
        }
    }

    private List<UpstreamOptions> ReadUpstreams(string service, YamlMap map, ServiceMode mode)
    {
        var result = new List<UpstreamOptions>();
        var seq = map.List("upstreams");
        if (seq is null)
        {
            if (map.Raw("upstreams") is null)
            {
                errors.Add(map.Node, $"Service '{service}' has no 'upstreams': list at least one.");
            }

            return result;
        }

        if (seq.Children.Count == 0)
        {
            errors.Add(seq, $"Service '{service}' has an empty 'upstreams' list: list at least one.");
        }

        var seen = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var item in seq.Children)
        {
            var u = YamlMap.FromItem(item, errors, $"an upstream of service '{service}'");
            if (u is null)
            {
                continue;
            }

            u.AllowOnly("name", "url", "address", "region", "weight", "tier", "dns_address");
            var nameNode = u.Scalar("name", required: true);
            var upstreamName = nameNode?.Value ?? "";
            if (nameNode is not null)
            {
                if (!ConfigReader.IsName(upstreamName))
                {
                    errors.Add(nameNode, $"'{upstreamName}' is not a valid upstream name: use letters, digits, '-' and '_'.");
                }
                else if (seen.TryGetValue(upstreamName, out var first))
                {
                    errors.Add(nameNode, $"Service '{service}' has two upstreams named '{upstreamName}' (the first is on line {first.Start.Line}); names must be unique within a service.");
                }
                else
                {
                    seen[upstreamName] = nameNode;
                }
            }

            var url = mode == ServiceMode.Tcp ? TcpAddress(u, service) : HttpUpstreamUrl(u, service);
            var tier = ReadTier(u);
            var weight = u.Int("weight", 1, 1000) ?? 1;
            if (url is null || nameNode is null)
            {
                continue;
            }

            System.Net.IPAddress? dnsAddress = null;
            if (u.Scalar("dns_address") is { } da && (!System.Net.IPAddress.TryParse(da.Value, out dnsAddress)
                || (dnsAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !DnsReader.IsStrictIPv4(da.Value ?? ""))))
            {
                errors.Add(da, $"'dns_address' in {u.Where} must be an IPv4 or IPv6 address, not '{da.Value}'.");
            }

            result.Add(new UpstreamOptions { Name = upstreamName, Url = url, Region = u.String("region"), Weight = weight, Tier = tier, DnsAddress = dnsAddress });
        }

        if (result.Count == 0 && seq.Children.Count > 0 && seq.Children.All(YamlMap.IsNull))
        {
            errors.Add(seq, $"Service '{service}' has no usable upstream: every item of 'upstreams' is empty.");
        }

        var tiers = result.Select(r => r.Tier).Distinct().Order().ToList();
        if (tiers.Count > 0 && tiers[0] > UpstreamOptions.PrimaryTier && seq.Children.Count == result.Count)
        {
            errors.Add(seq, $"Service '{service}' has only upstreams of tier {TierName(tiers[0])} and none of tier primary: a backup tier needs a primary tier to back up.");
        }

        return result;
    }

    private static string TierName(int tier) => tier switch { 0 => "primary", 1 => "backup", _ => tier.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    private int ReadTier(YamlMap u)
    {
        var s = u.Scalar("tier");
        if (s?.Value is null)
        {
            return UpstreamOptions.PrimaryTier;
        }

        if (s.Value == "primary")
        {
            return UpstreamOptions.PrimaryTier;
        }

        if (s.Value == "backup")
        {
            return UpstreamOptions.BackupTier;
        }

        if (int.TryParse(s.Value, System.Globalization.CultureInfo.InvariantCulture, out var n) && n is >= 0 and <= 100)
        {
            return n;
        }

        errors.Add(s, $"'tier' must be primary, backup or a whole number from 0 to 100 (lower wins), not '{s.Value}'.");
        return UpstreamOptions.PrimaryTier;
    }

    private HealthCheckOptions ReadHealth(YamlMap? map, ServiceMode mode)
    {
        var kind = ReadCheck(map, mode);
        var d = kind.IsRoleCheck() ? HealthCheckOptions.RoleDefaults with { Check = kind } : new HealthCheckOptions { Check = kind };
        if (map is null)
        {
            return d;
        }

        map.AllowOnly("check", "path", "interval", "fast_interval", "timeout", "rise", "fall", "expect_status", "expect_body", "host", "reuse_connection",
            "user", "password_file", "database", "max_lag");
        CheckKeysFit(map, kind);
        var path = map.String("path") ?? d.Path;
        if (!path.StartsWith('/'))
        {
            errors.Add(map.Raw("path"), $"The health check path must start with '/', not '{path}'.");
        }

        var interval = map.Duration("interval", TimeSpan.FromMilliseconds(50)) ?? d.Interval;
        var timeout = map.Duration("timeout", TimeSpan.FromMilliseconds(10)) ?? d.Timeout;
        if (timeout > interval)
        {
            var at = map.Raw("timeout") ?? map.Raw("interval") ?? map.Node;
            var hint = map.Raw("timeout") is null ? $" (the default timeout is {ValueParsers.FormatDuration(d.Timeout)}: set 'timeout' too)" : "";
            errors.Add(at, $"The health check timeout ({ValueParsers.FormatDuration(timeout)}) must not be longer than its interval ({ValueParsers.FormatDuration(interval)}){hint}.");
        }

        var fast = map.Duration("fast_interval", TimeSpan.FromMilliseconds(50));
        if (fast is { } f && f > interval)
        {
            errors.Add(map.Raw("fast_interval"), $"The health check fast_interval ({ValueParsers.FormatDuration(f)}) must not be longer than its interval ({ValueParsers.FormatDuration(interval)}).");
        }
        return d with
        {
            Path = path,
            Interval = interval,
            FastInterval = fast ?? TimeSpan.FromTicks(Math.Min(d.FastInterval.Ticks, interval.Ticks)),
            Timeout = timeout,
            Rise = map.Int("rise", 1, 100) ?? d.Rise,
            Fall = map.Int("fall", 1, 100) ?? d.Fall,
            ExpectStatus = map.StatusRanges("expect_status") ?? d.ExpectStatus,
            ExpectBody = map.String("expect_body"),
            Host = map.String("host"),
            ReuseConnection = map.Bool("reuse_connection") ?? d.ReuseConnection,
            User = map.String("user"),
            PasswordFile = SecretFile(map, "password_file"),
            Database = map.String("database"),
            MaxLagBytes = ReadMaxLag(map, kind),
        };
    }

    private PassiveHealthOptions ReadPassive(YamlMap? map)
    {
        var d = new PassiveHealthOptions();
        if (map is null)
        {
            return d;
        }

        map.AllowOnly("failures", "on_status", "eject", "eject_max");
        var result = d with
        {
            Failures = map.Int("failures", 1, 1000) ?? d.Failures,
            OnStatus = map.StatusRanges("on_status") ?? d.OnStatus,
            Eject = map.Duration("eject", TimeSpan.FromMilliseconds(100)) ?? d.Eject,
            EjectMax = map.Duration("eject_max", TimeSpan.FromMilliseconds(100)) ?? d.EjectMax,
        };
        if (result.Eject > result.EjectMax)
        {
            errors.Add(map.Raw("eject") ?? map.Raw("eject_max") ?? map.Node, $"The first ejection ({ValueParsers.FormatDuration(result.Eject)}) must not be longer than eject_max ({ValueParsers.FormatDuration(result.EjectMax)}).");
        }

        return result;
    }

    private RetryOptions ReadRetry(YamlMap map)
    {
        var d = new RetryOptions();
        var budget = map.Map("retry_budget");
        budget?.AllowOnly("ratio", "min_per_second");
        return d with
        {
            Retries = map.Int("retries", 0, 10) ?? d.Retries,
            OnStatus = map.StatusRanges("retry_on") ?? d.OnStatus,
            BudgetRatio = budget?.Double("ratio", 0, 10) ?? d.BudgetRatio,
            BudgetMinPerSecond = budget?.Int("min_per_second", 0, 100000) ?? d.BudgetMinPerSecond,
        };
    }

    private TimeoutOptions ReadTimeouts(YamlMap? map, ServiceMode mode)
    {
        // A database connection may idle for long; the client's own keepalive still applies.
        var d = mode == ServiceMode.Tcp ? new TimeoutOptions { Idle = TimeSpan.FromHours(1) } : new TimeoutOptions();
        if (map is null)
        {
            return d;
        }

        map.AllowOnly(mode == ServiceMode.Tcp ? ["connect", "idle"] : ["connect", "first_byte", "request", "idle"]);
        var min = TimeSpan.FromMilliseconds(1);
        var request = map.Duration("request", min) ?? d.Request;
        var idle = map.Duration("idle", min) ?? (request > d.Idle ? request : d.Idle);
        if (idle < request && mode == ServiceMode.Http)
        {
            // The idle timer (YARP's activity timeout) also runs while the response is awaited: it would win.
            errors.Add(map.Raw("idle") ?? map.Node, $"'idle' ({ValueParsers.FormatDuration(idle)}) in {map.Where} must not be shorter than 'request' ({ValueParsers.FormatDuration(request)}): it also runs while the response is awaited.");
        }

        return new TimeoutOptions
        {
            Connect = map.Duration("connect", min) ?? d.Connect,
            FirstByte = map.Duration("first_byte", min) ?? d.FirstByte,
            Request = request,
            Idle = idle,
        };
    }

    private SorryOptions ReadSorry(YamlMap? map)
    {
        var d = new SorryOptions();
        if (map is null)
        {
            return d;
        }

        map.AllowOnly("file", "retry_after", "redirect");
        string? file = null;
        if (map.Scalar("file") is { Value: { Length: > 0 } value } s)
        {
            file = Path.GetFullPath(Path.Combine(baseDirectory, value));
            if (!File.Exists(file))
            {
                errors.Add(s, $"The sorry page file '{value}' does not exist (looked for {file}).");
            }
        }

        return new SorryOptions
        {
            File = file,
            RetryAfter = map.Duration("retry_after") ?? d.RetryAfter,
            Redirect = map.HttpUrl("redirect"),
        };
    }

    private ForwardedHeaderOptions ReadForwarded(YamlMap? map)
    {
        var d = new ForwardedHeaderOptions();
        if (map is null)
        {
            return d;
        }

        map.AllowOnly("x_forwarded", "via", "preserve_host");
        return new ForwardedHeaderOptions
        {
            XForwarded = map.Bool("x_forwarded") ?? d.XForwarded,
            Via = map.Bool("via") ?? d.Via,
            PreserveHost = map.Bool("preserve_host") ?? d.PreserveHost,
        };
    }

    /// <summary>'relay: true|false', or a mapping with the policy (enabled defaults to true then).</summary>
    private bool ReadRelay(YamlMap map, out RelayPolicy policy)
    {
        var d = new RelayPolicy();
        policy = d;
        if (map.Raw("relay") is not YamlMappingNode)
        {
            return map.Bool("relay") ?? false;
        }

        var r = map.Map("relay")!;
        r.AllowOnly("enabled", "prefer_over_backup", "loss_margin", "latency_margin");
        var loss = d.LossMargin;
        if (r.Scalar("loss_margin") is { } s)
        {
            if (ValueParsers.TryParseShare(s.Value, out var v))
            {
                loss = v;
            }
            else
            {
                errors.Add(s, $"'loss_margin' in {r.Where} must be a share such as 5% or 0.05, not '{s.Value}'.");
            }
        }

        policy = new RelayPolicy
        {
            PreferOverBackup = r.Bool("prefer_over_backup") ?? d.PreferOverBackup,
            LossMargin = loss,
            LatencyMargin = r.Duration("latency_margin") ?? d.LatencyMargin,
        };
        return r.Bool("enabled") ?? true;
    }

    private Version ReadVersion(YamlMap map)
    {
        var s = map.Scalar("http_version");
        switch (s?.Value)
        {
            case null or "1.1":
                return System.Net.HttpVersion.Version11;
            case "2" or "2.0":
                return System.Net.HttpVersion.Version20;
            default:
                errors.Add(s, $"'http_version' must be 1.1 or 2, not '{s.Value}'.");
                return System.Net.HttpVersion.Version11;
        }
    }

    /// <summary>'hedge' absent: on, adaptive. 'hedge: off' (or false): off. A mapping: its settings.</summary>
    private HedgeOptions? ReadHedge(YamlMap owner)
    {
        var d = new HedgeOptions();
        var raw = owner.Raw("hedge");
        if (raw is null)
        {
            return d;
        }

        if (raw is YamlScalarNode scalar)
        {
            switch (scalar.Value?.ToLowerInvariant())
            {
                case "off" or "false" or "no":
                    return null;
                case "on" or "true" or "yes" or "auto":
                    return d;
                default:
                    errors.Add(scalar, $"'hedge' in {owner.Where} must be off, on, or a mapping such as {{ delay: auto, max_attempts: 2 }}, not '{scalar.Value}'.");
                    return d;
            }
        }

        var map = owner.Map("hedge");
        if (map is null)
        {
            return d;
        }

        map.AllowOnly("delay", "max_attempts", "methods", "skip_paths");
        TimeSpan? delay = null;
        if (map.Scalar("delay") is { } s && s.Value != "auto")
        {
            delay = map.Duration("delay", TimeSpan.FromMilliseconds(1));
        }

        var methods = d.Methods;
        if (map.List("methods") is { } list)
        {
            methods = [];
            foreach (var item in list.Children)
            {
                var method = (item as YamlScalarNode)?.Value?.ToUpperInvariant();
                if (method is "GET" or "HEAD" or "OPTIONS" or "PUT" or "DELETE")
                {
                    ((List<string>)methods).Add(method);
                }
                else
                {
                    errors.Add(item, $"'methods' in {map.Where} lists methods that may be hedged: GET, HEAD, OPTIONS, PUT or DELETE (idempotent ones), not '{(item as YamlScalarNode)?.Value}'.");
                }
            }
        }

        var skip = new List<string>();
        foreach (var item in map.List("skip_paths")?.Children ?? [])
        {
            if (item is YamlScalarNode { Value: { } p } && p.StartsWith('/'))
            {
                skip.Add(p);
            }
            else
            {
                errors.Add(item, $"'skip_paths' in {map.Where} lists path prefixes starting with '/', such as /poll/.");
            }
        }

        return new HedgeOptions { Delay = delay, MaxAttempts = map.Int("max_attempts", 1, 5) ?? d.MaxAttempts, Methods = methods, SkipPaths = skip };
    }

    private static Uri? HttpUpstreamUrl(YamlMap u, string service)
    {
        if (u.Raw("address") is { } address)
        {
            u.Errors.Add(address, $"An upstream of http service '{service}' takes 'url' (http://host:port/...), not 'address' (that is for mode: tcp).");
            return null;
        }

        return u.HttpUrl("url", required: true);
    }

    /// <summary>'address: host:port' of a tcp upstream, kept as tcp://host:port so every path-keyed part works unchanged.</summary>
    private static Uri? TcpAddress(YamlMap u, string service)
    {
        if (u.Raw("url") is { } url)
        {
            u.Errors.Add(url, $"An upstream of tcp service '{service}' takes 'address' (host:port), not 'url'.");
            return null;
        }

        var s = u.Scalar("address", required: true);
        if (s is null)
        {
            return null;
        }

        var text = s.Value?.Trim() ?? "";
        if (TryTcpUri(text) is { } uri)
        {
            return uri;
        }

        u.Errors.Add(s, $"'address' in {u.Where} must be host:port (such as 127.0.0.1:6379, [::1]:5432 or db1.internal:3306), not '{text}'.");
        return null;
    }

    internal static Uri? TryTcpUri(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return null;
        }

        var host = text[..colon];
        var bare = host.Trim('[', ']');
        if (bare.Contains(':') && System.Net.IPAddress.TryParse(bare, out _))
        {
            host = $"[{bare}]";
        }
        else if (host.Length == 0 || host.Contains('[') || host.Contains(']') || host.Contains('/') || host.Contains('@') || host.Contains(' '))
        {
            return null;
        }

        return Uri.TryCreate($"tcp://{host}:{port}", UriKind.Absolute, out var uri) && uri.Port == port ? uri : null;
    }

    private HealthCheckKind ReadCheck(YamlMap? map, ServiceMode mode)
    {
        var fallback = mode == ServiceMode.Tcp ? HealthCheckKind.Tcp : HealthCheckKind.Http;
        var s = map?.Scalar("check");
        if (s is null)
        {
            return fallback;
        }

        if (!HealthCheckKinds.ByName.TryGetValue(s.Value ?? "", out var kind))
        {
            var names = string.Join(", ", HealthCheckKinds.ByName.Keys.Where(k => mode == ServiceMode.Tcp ? k != "http" : k == "http"));
            var hint = Spelling.Closest(s.Value ?? "", HealthCheckKinds.ByName.Keys.Where(k => (k == "http") == (mode == ServiceMode.Http)));
            errors.Add(s, $"'check' in {map!.Where} must be one of {names}, not '{s.Value}'.{(hint is null ? "" : $" Did you mean '{hint}'?")}");
            return fallback;
        }

        if ((kind == HealthCheckKind.Http) != (mode == ServiceMode.Http))
        {
            errors.Add(s, mode == ServiceMode.Http
                ? $"'check: {s.Value}' in {map!.Where} is for mode: tcp services; an http service is checked with an HTTP GET of 'path'."
                : $"'check: http' in {map!.Where} is for mode: http services; a tcp service uses tcp or a role check such as redis-primary.");
            return fallback;
        }

        return kind;
    }

    /// <summary>Keys of one kind of check given to another: said, not silently ignored.</summary>
    private void CheckKeysFit(YamlMap map, HealthCheckKind kind)
    {
        string[] httpOnly = ["path", "expect_status", "expect_body", "host", "reuse_connection"];
        string[] roleOnly = ["user", "password_file", "database", "max_lag"];
        foreach (var key in kind == HealthCheckKind.Http ? roleOnly : kind.IsRoleCheck() ? httpOnly : [.. httpOnly, .. roleOnly])
        {
            if (map.Raw(key) is { } raw)
            {
                errors.Add(raw, $"'{key}' in {map.Where} does not apply to 'check: {kind.Name()}'.");
            }
        }

        if (map.Raw("database") is { } db && kind.IsRoleCheck() && kind is not (HealthCheckKind.PostgresPrimary or HealthCheckKind.PostgresStandby))
        {
            errors.Add(db, $"'database' in {map.Where} applies only to postgres checks.");
        }
    }

    private long? ReadMaxLag(YamlMap map, HealthCheckKind kind)
    {
        var raw = map.Scalar("max_lag");
        if (raw is null || !kind.IsRoleCheck())
        {
            return null; // CheckKeysFit said it does not apply
        }

        if (!kind.WantsReplica())
        {
            errors.Add(raw, $"'max_lag' in {map.Where} applies only to replica checks (redis-replica, postgres-standby).");
            return null;
        }

        if (kind == HealthCheckKind.MysqlReplica)
        {
            errors.Add(raw, $"'max_lag' in {map.Where} is not offered for mysql-replica: MySQL reports lag only as Seconds_Behind_Source, which is unreliable (0 while the IO thread is stalled), and positions from different binlogs cannot be subtracted. A MySQL replica takes reads while its IO and SQL threads run.");
            return null;
        }

        if (!ValueParsers.TryParseSize(raw.Value, out var bytes))
        {
            errors.Add(raw, $"'max_lag' in {map.Where} is a number of bytes of replication behind the primary, such as 1MB or 65536, not '{raw.Value}' (a duration cannot be measured honestly: replay timestamps stand still while the primary is idle).");
            return null;
        }

        return bytes;
    }

    private string? SecretFile(YamlMap map, string key) => ConfigFiles.Existing(map, key, "password", baseDirectory);

    private TcpOptions ReadTcp(YamlMap map, HealthCheckOptions health)
    {
        var d = new TcpOptions();
        var limits = map.Map("limits");
        limits?.AllowOnly("max_connections", "max_per_client");
        return new TcpOptions
        {
            MaxConnections = limits?.Int("max_connections", 1, 1_000_000) ?? d.MaxConnections,
            MaxPerClient = limits?.Int("max_per_client", 1, 1_000_000) ?? d.MaxPerClient,
            DemotionGrace = ReadDemotion(map, health),
            Sentinels = ReadSentinels(map, health),
        };
    }

    /// <summary>'on_demotion: close' (the default) or 'grace:5s' (read services only).</summary>
    private TimeSpan? ReadDemotion(YamlMap map, HealthCheckOptions health)
    {
        var s = map.Scalar("on_demotion");
        var text = s?.Value?.Trim();
        if (s is null || text == "close")
        {
            return null;
        }

        if (text is not null && text.StartsWith("grace:", StringComparison.Ordinal) && ValueParsers.TryParseDuration(text["grace:".Length..].Trim(), out var grace, out _))
        {
            if (!health.Check.WantsReplica())
            {
                errors.Add(s, $"'on_demotion: {text}' in {map.Where} is allowed on read services only (a replica check): connections to a demoted primary are closed at once, so no client keeps writing to a replica or to an old primary.");
                return null;
            }

            return grace;
        }

        errors.Add(s, $"'on_demotion' in {map.Where} must be close or grace:<duration> (such as grace:5s), not '{text}'.");
        return null;
    }

    private SentinelOptions? ReadSentinels(YamlMap owner, HealthCheckOptions health)
    {
        var map = owner.Map("sentinels");
        if (map is null)
        {
            return null;
        }

        map.AllowOnly("master", "addresses", "password_file");
        if (health.Check is not (HealthCheckKind.RedisPrimary or HealthCheckKind.RedisReplica))
        {
            errors.Add(map.Node, $"'sentinels' in {owner.Where} applies only to redis-primary and redis-replica checks.");
        }

        var master = map.String("master", required: true) ?? "";
        var addresses = new List<System.Net.DnsEndPoint>();
        var list = map.List("addresses");
        if (list is null)
        {
            errors.Add(map.Raw("addresses") ?? map.Node, $"'sentinels' in {owner.Where} needs 'addresses': a list of host:port, one per sentinel.");
        }

        if (list is { Children.Count: 0 })
        {
            errors.Add(list, $"'sentinels' in {owner.Where} lists no addresses: name each sentinel as host:port.");
        }

        foreach (var item in list?.Children ?? [])
        {
            var text = (item as YamlScalarNode)?.Value ?? "";
            if (TryTcpUri(text.Trim()) is { } uri)
            {
                addresses.Add(new System.Net.DnsEndPoint(uri.Host.Trim('[', ']'), uri.Port));
            }
            else
            {
                errors.Add(item, $"A sentinel address must be host:port, not '{text}'.");
            }
        }

        return new SentinelOptions(master, addresses, SecretFile(map, "password_file"));
    }
}
