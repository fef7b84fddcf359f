namespace Manypaths.Proxy;

/// <summary>How one attempt ended, as far as retrying is concerned.</summary>
internal enum AttemptFailure
{
    None,

    /// <summary>Refused, unreachable, DNS or connect timeout: the request provably never left this node.</summary>
    NeverSent,

    /// <summary>No response headers within first_byte: the upstream may have acted on it.</summary>
    Timeout,

    /// <summary>Reset or broken after sending: the upstream may have acted on it.</summary>
    Broken,

    /// <summary>A response with a status in retry_on.</summary>
    RetryableStatus,
}
