namespace FifoPipes.Models.Analytic; internal static class Placeholder { }
