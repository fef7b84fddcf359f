namespace Manypaths.Proxy;

/// <summary>A failed attempt or probe in one line an operator can act on (never "A task was canceled.").</summary>
internal static class FailureText
{
    public static string Of(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is ConnectFailedException c)
            {
                return c.Message; // "Could not connect to host:port: connect timeout after 150ms"
            }
        }

        var innermost = e;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        return innermost == e ? e.Message : $"{e.Message} ({innermost.Message})";
    }
}
