namespace Manypaths.Config;

/// <summary>A set of HTTP statuses as a lookup table: O(1) and allocation-free on the request path.</summary>
public sealed class StatusSet
{
    private readonly bool[] _member = new bool[600];

    public StatusSet(IEnumerable<StatusRange> ranges)
    {
        foreach (var r in ranges)
        {
            for (var s = Math.Max(r.From, 0); s <= Math.Min(r.To, 599); s++)
            {
                _member[s] = true;
            }
        }
    }

    public bool Contains(int status) => (uint)status < 600 && _member[status];
}
