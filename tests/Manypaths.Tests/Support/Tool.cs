using System.Diagnostics;

namespace Manypaths.Tests.Support;

/// <summary>Runs a real external program (promtool, python3, the manypaths binary) with a deadline, killing it by PID on timeout.</summary>
internal static class Tool
{
    public static string RepoRoot { get; } = FindRoot();

    public static string ManypathsDll => Path.Combine(RepoRoot, "src", "Manypaths", "bin", "Debug", "net10.0", "manypaths.dll");

    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string file, string args, string? stdin = null, TimeSpan? timeout = null)
    {
        using var p = new Process
        {
            StartInfo = new ProcessStartInfo(file, args)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            },
        };
        p.Start();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
        }

        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {args} did not finish in time");
        }

        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs a program with arguments passed as they are (no shell quoting); throws with its output when it fails
    /// or does not finish in time. For fixtures that set servers up.</summary>
    public static async Task RunCheckedAsync(string file, IReadOnlyList<string> args, TimeSpan timeout, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? "/",
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:0} s");
        }

        var output = await stdout + await stderr;
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {p.ExitCode}:\n{output}");
        }
    }

    /// <summary>Stops a process this test started, by its PID (if it still runs), and releases it.</summary>
    public static void Stop(Process p)
    {
        try
        {
            if (!p.HasExited)
            {
                p.Kill();
                p.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        p.Dispose();
    }

    public static Task<(int Exit, string Stdout, string Stderr)> ManypathsAsync(string args, TimeSpan? timeout = null) =>
        RunAsync("dotnet", $"\"{ManypathsDll}\" {args}", timeout: timeout);

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Manypaths.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (Manypaths.slnx).");
    }
}
