using System.Management.Automation;
using System.Reflection;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// Ends the commands upstream of a cmdlet, as Select-Object -First does, so a producer stops making frames no one will
/// write. PowerShell keeps the exception that does this internal; where it cannot be made, the caller just drops input.
/// </summary>
static class UpstreamStop
{
    static readonly ConstructorInfo? Constructor = typeof(PSObject).Assembly
        .GetType("System.Management.Automation.StopUpstreamCommandsException")?
        .GetConstructors(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
        .FirstOrDefault(c => c.GetParameters() is [{ ParameterType: var type }] && type.IsAssignableFrom(typeof(Cmdlet)));

    /// <summary>
    /// Throws the stop for <paramref name="requester"/>; returns where there is none. PowerShell then skips the
    /// requester's own EndProcessing (it still disposes it), so only a command with nothing left to finish may ask.
    /// </summary>
    public static void Request(Cmdlet requester)
    {
        if (Constructor?.Invoke(new object[] { requester }) is Exception stop) throw stop;
    }
}
