namespace FifoPipes.Samplers.Fifo; internal static class Placeholder { }
