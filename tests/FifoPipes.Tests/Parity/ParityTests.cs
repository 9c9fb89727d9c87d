using System.Reflection;
using Xunit;

namespace FifoPipes.Tests.Parity;

/// <summary>
/// The data-driven parity harness: one test per case folder under the parity root, dispatched on
/// case.json "component". Run alone with: dotnet test --filter Category=Parity
/// </summary>
[Trait("Category", "Parity")]
public sealed class ParityTests
{
    static readonly Lazy<Dictionary<string, IParityComponent>> Registry = new(() =>
    {
        var map = new Dictionary<string, IParityComponent>(StringComparer.Ordinal);
        foreach (var type in typeof(ParityTests).Assembly.GetTypes())
        {
            if (type.IsAbstract || !typeof(IParityComponent).IsAssignableFrom(type)) continue;
            var runner = (IParityComponent)Activator.CreateInstance(type)!;
            foreach (var component in runner.Components) map.Add(component, runner);
        }
        return map;
    });

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in ParityCase.Discover()) data.Add(c.Name);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Case(string name)
    {
        var parityCase = ParityCase.Load(name);
        Skip.IfNot(Registry.Value.TryGetValue(parityCase.Component, out var runner),
            $"component '{parityCase.Component}' of {name} is not implemented yet");
        runner!.Run(parityCase);
        Assert.True(parityCase.UnreadOutputs.Count == 0,
            $"{name}: the runner for '{parityCase.Component}' never read the declared outputs {string.Join(", ", parityCase.UnreadOutputs)}");
    }

    [Fact]
    public void The_parity_root_holds_cases()
    {
        Assert.True(Directory.Exists(ParityCase.Root), $"Parity root {ParityCase.Root} is missing; set FIFOPIPES_PARITY_DIR.");
        Assert.NotEmpty(ParityCase.Discover());
    }
}
