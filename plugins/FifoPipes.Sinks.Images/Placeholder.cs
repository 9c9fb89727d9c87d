namespace FifoPipes.Sinks.Images; internal static class Placeholder { }
