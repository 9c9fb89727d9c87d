using System.Text.Json;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Text;
using Xunit;

namespace FifoPipes.Tests.OpenSora;

/// <summary>"t5.tokenizer": every prompt of the case, ids and mask, exactly.</summary>
public sealed class T5TokenizerParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "t5.tokenizer" };

    public void Run(ParityCase parityCase)
    {
        var tokenizer = T5Tokenizer.Load(parityCase.File(parityCase.Config.GetProperty("vocab_file").GetString()!));
        int maxLength = parityCase.Config.GetProperty("max_length").GetInt32();
        var prompts = parityCase.Json.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()!).ToList();
        var expectedIds = parityCase["input_ids"];
        var expectedMask = parityCase["attention_mask"];
        // Every golden row is compared: a row with no prompt would otherwise go unchecked.
        Assert.Equal((long)prompts.Count, expectedIds.shape[0]);
        Assert.Equal((long)prompts.Count, expectedMask.shape[0]);
        var failures = new List<string>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var (ids, mask) = tokenizer.Tokenize(prompts[i], maxLength);
            var wantIds = expectedIds[i].data<long>().ToArray();
            var wantMask = expectedMask[i].data<long>().ToArray();
            if (!ids.SequenceEqual(wantIds) || !mask.SequenceEqual(wantMask))
                failures.Add($"row {i} {JsonSerializer.Serialize(prompts[i])}: got [{string.Join(",", ids)}], expected [{string.Join(",", wantIds)}]");
        }
        Assert.True(failures.Count == 0, $"{parityCase.Name}: {failures.Count} of {prompts.Count} prompts differ:{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
    }
}
