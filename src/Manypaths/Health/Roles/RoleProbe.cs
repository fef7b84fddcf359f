namespace Manypaths.Health.Roles;

/// <summary>
/// A role check of one upstream: asks the server what it is (<see cref="IRoleReader"/>) and lets the service's
/// <see cref="RoleBoard"/> judge the answer beside the other upstreams' answers.
/// </summary>
internal sealed class RoleProbe(int upstream, RoleBoard board, IRoleReader reader) : IProbe
{
    public async Task<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        RoleReport report;
        try
        {
            report = await reader.ReadAsync(cancellationToken);
        }
        catch (Exception e)
        {
            board.NoAnswer(upstream, cancellationToken.IsCancellationRequested ? "no answer in time" : Proxy.FailureText.Of(e));
            throw;
        }

        return board.Judge(upstream, report);
    }
}

/// <summary>Asks one database server its role, over a connection it keeps between checks.</summary>
internal interface IRoleReader : IAsyncDisposable
{
    Task<RoleReport> ReadAsync(CancellationToken cancellationToken);
}
