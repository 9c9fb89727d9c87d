namespace FifoPipes.PowerShell; internal static class Placeholder { }
