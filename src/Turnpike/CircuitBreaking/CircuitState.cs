namespace Turnpike.CircuitBreaking;

/// <summary>A destination's breaker state; the numbers are what <c>turnpike_circuit_breaker_state</c> reports.</summary>
public enum CircuitState
{
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}
