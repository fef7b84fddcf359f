using System.Runtime.InteropServices;

namespace Manypaths.Node;

/// <summary>
/// Triggers a reload on SIGHUP and when the config file changes (debounced: editors write in bursts), saying which
/// of the two asked. The reload itself reports every outcome (NodeHost.ReloadAsync never throws).
/// </summary>
internal sealed class ConfigWatcher : IDisposable
{
    public const string Signal = "SIGHUP";
    public const string FileChanged = "the file changed";

    private readonly FileSystemWatcher _watcher;
    private readonly PosixSignalRegistration? _sighup;
    private readonly Func<string, Task> _reload;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private ITimer? _debounce;

    public ConfigWatcher(string path, Func<string, Task> reload, TimeProvider time)
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
                _ = Task.Run(() => _reload(Signal));
            });
        }
    }

    private void Schedule()
    {
        lock (_lock)
        {
            _debounce?.Dispose();
            _debounce = _time.CreateTimer(_ => _ = Task.Run(() => _reload(FileChanged)), null, TimeSpan.FromMilliseconds(200), Timeout.InfiniteTimeSpan);
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
