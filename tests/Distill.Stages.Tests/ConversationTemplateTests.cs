using Distill.Stages.Text;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>The chat templates at token level on real tokenizers: the sequence is the family's rendered text tokenized
/// whole, and the labels are exactly each assistant answer with its end-of-turn token, on every turn.</summary>
public sealed class ConversationTemplateTests
{
    private static readonly (bool Human, string Text)[] TwoRounds =
        [(true, "<image>\nWhat colour is the ball?"), (false, "Red."), (true, "And its shape?"), (false, "Round.")];

    private static string Labelled(ITokenizer tokenizer, EncodedSample sample) =>
        tokenizer.Decode(sample.InputIds.Where((_, i) => sample.LabelsMask[i]));

    /// <summary>The labelled tokens as runs: one string per contiguous labelled span.</summary>
    private static List<string> Spans(ITokenizer tokenizer, EncodedSample sample)
    {
        var spans = new List<string>();
        for (int i = 0; i < sample.InputIds.Length; i++)
        {
            if (!sample.LabelsMask[i]) continue;
            int start = i;
            while (i < sample.InputIds.Length && sample.LabelsMask[i]) i++;
            spans.Add(tokenizer.Decode(sample.InputIds[start..i]));
        }
        return spans;
    }

    [Fact]
    public void Chatml_on_qwen_labels_each_answer_and_its_im_end_and_nothing_else()
    {
        var tokenizer = HfTokenizer.Load(TokenizerFixtures.TokenizerDir("qwen3"));
        var sample = ConversationTemplates.ByName("chatml").Encode(tokenizer, TwoRounds);

        Assert.Equal(tokenizer.Encode(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
            "<|im_start|>user\n<image>\nWhat colour is the ball?<|im_end|>\n<|im_start|>assistant\nRed.<|im_end|>\n" +
            "<|im_start|>user\nAnd its shape?<|im_end|>\n<|im_start|>assistant\nRound.<|im_end|>\n"), sample.InputIds);
        Assert.Equal(["Red.<|im_end|>", "Round.<|im_end|>"], Spans(tokenizer, sample));
        var imEnd = tokenizer.TokenToId("<|im_end|>")!.Value;
        Assert.Equal(2, sample.InputIds.Where((id, i) => sample.LabelsMask[i] && id == imEnd).Count());
        Assert.False(sample.LabelsMask[^1]); // the newline after the last <|im_end|> is the template's
    }

    [Fact]
    public void Llama3_labels_each_answer_and_its_eot_id()
    {
        var tokenizer = HfTokenizer.Load(TokenizerFixtures.TokenizerDir("llama3"));
        var sample = ConversationTemplates.ByName("llama3").Encode(tokenizer, TwoRounds);

        Assert.Equal(tokenizer.Encode(
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n<image>\nWhat colour is the ball?<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\nRed.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" +
            "And its shape?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nRound.<|eot_id|>"), sample.InputIds);
        Assert.Equal(tokenizer.BosId, sample.InputIds[0]);
        Assert.Equal(["Red.<|eot_id|>", "Round.<|eot_id|>"], Spans(tokenizer, sample));
        Assert.True(sample.LabelsMask[^1]);
    }

    [Fact]
    public void Vicuna_v1_on_a_sentencepiece_tokenizer_starts_with_bos_and_labels_each_answer_and_its_eos()
    {
        var tokenizer = HfTokenizer.Load(TokenizerFixtures.TokenizerDir("llama2"));
        var sample = ConversationTemplates.ByName("vicuna_v1").Encode(tokenizer, TwoRounds);

        Assert.Equal(tokenizer.BosId, sample.InputIds[0]);
        Assert.Equal(tokenizer.Encode(VicunaV1Template.DefaultSystem +
            " USER: <image>\nWhat colour is the ball? ASSISTANT: Red.</s> USER: And its shape? ASSISTANT: Round.</s>"), sample.InputIds[1..]);
        var spans = Spans(tokenizer, sample);
        Assert.Equal(2, spans.Count);
        Assert.Equal(["Red.</s>", "Round.</s>"], spans.Select(s => s.Trim()));
        Assert.Equal(tokenizer.EosId, sample.InputIds[^1]);
        Assert.True(sample.LabelsMask[^1]);
        Assert.DoesNotContain("ASSISTANT", Labelled(tokenizer, sample));
    }

    [Fact]
    public void The_prompt_ends_with_the_assistant_header_and_is_the_encoded_conversations_prefix()
    {
        var tokenizer = HfTokenizer.Load(TokenizerFixtures.TokenizerDir("qwen3"));
        var template = ConversationTemplates.ByName("chatml");
        var prompt = template.EncodePrompt(tokenizer, TwoRounds[..3]);
        var full = template.Encode(tokenizer, TwoRounds);
        Assert.Equal(full.InputIds[..prompt.Length], prompt);
        Assert.EndsWith("<|im_start|>assistant\n", tokenizer.Decode(prompt));
        Assert.True(full.LabelsMask[prompt.Length]);
        Assert.False(full.LabelsMask[prompt.Length - 1]);
    }

    [Fact]
    public void Templates_are_detected_from_tokenizer_config_and_bad_names_or_orders_are_refused()
    {
        Assert.Equal("chatml", ConversationTemplates.Detect(TokenizerFixtures.TokenizerDir("qwen3")));
        Assert.Equal("llama3", ConversationTemplates.Detect(TokenizerFixtures.TokenizerDir("llama3")));
        Assert.Null(ConversationTemplates.Detect(TokenizerFixtures.TokenizerDir("llama2"))); // no chat_template: name one
        Assert.Contains("supported: vicuna_v1, chatml, llama3", Assert.Throws<ArgumentException>(() => ConversationTemplates.ByName("alpaca")).Message);
        var tokenizer = HfTokenizer.Load(TokenizerFixtures.TokenizerDir("qwen3"));
        var template = ConversationTemplates.ByName("chatml");
        Assert.Contains("turn 0 should be human", Assert.Throws<ArgumentException>(() => template.Encode(tokenizer, [(false, "A")])).Message);
        Assert.Contains("the last turn should be the assistant's", Assert.Throws<ArgumentException>(() => template.Encode(tokenizer, [(true, "Q")])).Message);
    }
}
