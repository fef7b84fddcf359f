namespace Manypaths.Health;

/// <summary>Exponentially weighted moving average; NaN until the first sample.</summary>
internal struct Ewma(double alpha)
{
    public double Value { get; private set; } = double.NaN;

    public void Add(double sample) => Value = double.IsNaN(Value) ? sample : Value + (alpha * (sample - Value));
}
