using FifoPipes.Abstractions;

namespace FifoPipes.Benchmarks.Speed;

/// <summary>The engine's and the CPU check's messages, on the benchmark's output.</summary>
sealed class ConsoleLog : IProgressSink
{
    public void Verbose(string message) => Console.WriteLine(message);
    public void Warning(string message) => Console.WriteLine("warning: " + message);
}
