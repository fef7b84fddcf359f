using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Manypaths.Config;

/// <summary>
/// Passes YAML parser events through, refusing nesting deeper than <see cref="MaxDepth"/>. YamlDotNet's
/// representation model builds nodes recursively with no depth limit, so "a: [[[[..." a few thousand levels deep
/// overflowed the stack and killed the process (a stack overflow cannot be caught); a config has no reason to nest
/// past a dozen levels.
/// </summary>
internal sealed class DepthLimitedParser(IParser inner) : IParser
{
    public const int MaxDepth = 64;

    private int _depth;

    public ParsingEvent? Current => inner.Current;

    public bool MoveNext()
    {
        if (!inner.MoveNext())
        {
            return false;
        }

        switch (inner.Current)
        {
            case MappingStart or SequenceStart:
                if (++_depth > MaxDepth)
                {
                    throw new TooDeepException(inner.Current.Start, inner.Current.End);
                }

                break;
            case MappingEnd or SequenceEnd:
                _depth--;
                break;
        }

        return true;
    }
}

/// <summary>Thrown by <see cref="DepthLimitedParser"/>: valid YAML, but nested past any config's need.</summary>
internal sealed class TooDeepException(Mark start, Mark end)
    : YamlException(start, end, $"The config nests lists and mappings deeper than {DepthLimitedParser.MaxDepth} levels here; a config never needs that many.");
