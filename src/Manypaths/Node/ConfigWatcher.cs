using System.Runtime.InteropServices;

namespace Manypaths.Node;

/// <summary>Triggers a reload on SIGHUP and when the config file changes (debounced: editors write in bursts).</summary>
internal sealed class ConfigWatcher : IDisposable
{
    private readonly FileSystemWatcher _watcher;
    private readonly PosixSignalRegistration? _sighup;
    private readonly Func<Task> _reload;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private ITimer? _debounce;

    public ConfigWatcher(string path, Func<Task> reload, TimeProvider time)
    {
        _reload = reload;
        _time = time;
        var full = Path.GetFullPath(path);
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(full)!, Path.GetFileName(full))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        _watcher.Changed += (_, _) => Schedule();
        _watcher.Created += (_, _) => Schedule();
        _watcher.Renamed += (_, _) => Schedule();
        _watcher.EnableRaisingEvents = true;
        if (!OperatingSystem.IsWindows())
        {
            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
            {
                ctx.Cancel = true;
                _ = Task.Run(_reload);
            });
        }
    }

    private void Schedule()
    {
        lock (_lock)
        {
            _debounce?.Dispose();
            _debounce = _time.CreateTimer(_ => _ = Task.Run(_reload), null, TimeSpan.FromMilliseconds(200), Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _sighup?.Dispose();
        lock (_lock)
        {
            _debounce?.Dispose();
        }
    }
}
