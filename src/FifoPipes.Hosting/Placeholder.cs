namespace FifoPipes.Hosting; internal static class Placeholder { }
