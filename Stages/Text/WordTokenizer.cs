namespace Distill.Stages.Text;

/// <summary>Word-level tokenizer built from a training corpus (contract stub).</summary>
public sealed class WordTokenizer
{
    public const string PadToken = "<pad>", BosToken = "<s>", EosToken = "</s>", UnkToken = "<unk>",
        ImageToken = "<image>", UserToken = "<|user|>", AssistantToken = "<|assistant|>";
    public int VocabSize => throw new NotImplementedException();
    public int PadId => 0; public int BosId => 1; public int EosId => 2; public int UnkId => 3;
    public int ImageId => 4; public int UserId => 5; public int AssistantId => 6;
    public string Hash => throw new NotImplementedException();
    public static WordTokenizer Build(IEnumerable<string> corpus) => throw new NotImplementedException();
    public int[] Encode(string text) => throw new NotImplementedException();
    public string Decode(IEnumerable<int> ids) => throw new NotImplementedException();
    public void Save(string path) => throw new NotImplementedException();
    public static WordTokenizer Load(string path) => throw new NotImplementedException();
}
