using System.Diagnostics;
using System.Text;

namespace Manypaths.Tests.Support;

/// <summary>
/// A real `manypaths run` process (optionally inside a network namespace), its combined output kept for asserts.
/// Disposing it kills it by PID if it is still running.
/// </summary>
internal sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private NodeProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <param name="netns">Run inside this network namespace (ip netns exec), as root.</param>
    public static NodeProcess Start(string configPath, string node, string? netns = null, string extra = "")
    {
        var args = $"\"{Tool.ManypathsDll}\" run --config \"{configPath}\" --node {node} {extra}";
        var info = netns is null
            ? new ProcessStartInfo("dotnet", args)
            : new ProcessStartInfo("ip", $"netns exec {netns} dotnet {args}");
        info.Environment["STATE_DIRECTORY"] = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(configPath))!, "state-" + node); // history beside the test's config, not in ~
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        return new NodeProcess(Process.Start(info)!);
    }

    public bool Logged(string text) => Output.Contains(text, StringComparison.Ordinal);

    public async Task SignalAsync(string signal) => Assert.Equal(0, (await Tool.RunAsync("kill", $"-{signal} {_process.Id}")).Exit);

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private bool _disposed;

    /// <summary>Kills the process (SIGKILL, by PID) if it still runs; safe to call twice.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process.Dispose();
    }
}
