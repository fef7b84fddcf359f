namespace Manypaths.Routing;

/// <summary>The upstream indices one request already tried; a bit mask, with a set only past 64 upstreams.</summary>
public sealed class TriedSet : IReadOnlySet<int>
{
    private ulong _bits;
    private HashSet<int>? _more;

    public int Count { get; private set; }

    public void Add(int index)
    {
        if (Contains(index))
        {
            return;
        }

        if (index < 64)
        {
            _bits |= 1UL << index;
        }
        else
        {
            (_more ??= []).Add(index);
        }

        Count++;
    }

    public bool Contains(int item) => item < 64 ? (_bits & (1UL << item)) != 0 : _more?.Contains(item) == true;

    public IEnumerator<int> GetEnumerator()
    {
        for (var i = 0; i < 64; i++)
        {
            if ((_bits & (1UL << i)) != 0)
            {
                yield return i;
            }
        }

        foreach (var i in _more ?? [])
        {
            yield return i;
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public bool IsProperSubsetOf(IEnumerable<int> other) => new HashSet<int>(this).IsProperSubsetOf(other);
    public bool IsProperSupersetOf(IEnumerable<int> other) => new HashSet<int>(this).IsProperSupersetOf(other);
    public bool IsSubsetOf(IEnumerable<int> other) => new HashSet<int>(this).IsSubsetOf(other);
    public bool IsSupersetOf(IEnumerable<int> other) => new HashSet<int>(this).IsSupersetOf(other);
    public bool Overlaps(IEnumerable<int> other) => other.Any(Contains);
    public bool SetEquals(IEnumerable<int> other) => new HashSet<int>(this).SetEquals(other);
}
