namespace FifoPipes.Tests.Parity;

/// <summary>
/// Runs the parity cases of one or more components. Implementations are found by reflection, so a
/// port adds a class here and every case folder with its component runs with no other change.
/// </summary>
public interface IParityComponent
{
    /// <summary>Component names as written in case.json, e.g. "analytic.denoise".</summary>
    IEnumerable<string> Components { get; }

    /// <summary>Runs the case and throws (xunit assertion) on any mismatch.</summary>
    void Run(ParityCase parityCase);
}
