using Microsoft.Extensions.DependencyInjection;
using Turnpike.Forwarding;
using Turnpike.Model;

namespace Turnpike.Configuration;

/// <summary>Everything `turnpike validate` checks, without starting anything.</summary>
public static class ConfigValidator
{
    public static ConfigLoadResult Validate(ConfigSource source)
    {
        using var services = new ServiceCollection().AddLogging().AddTurnpikeForwarding().AddSingleton<RuntimeModelBuilder>().BuildServiceProvider();
        return source.Load(services.GetRequiredService<RuntimeModelBuilder>());
    }
}
