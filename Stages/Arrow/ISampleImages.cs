namespace Distill.Stages.Arrow;

/// <summary>The data path's images by sample id: what a <c>teacher/v2</c> reader puts back into the rows, whose parts
/// name their samples instead of holding the images again. Thread-safe.</summary>
public interface ISampleImages
{
    /// <summary>Bytes of every image (<c>H*W*3</c>, the preprocessed RGB of <c>samples/v1</c>).</summary>
    int ImageBytes { get; }

    /// <summary>The preprocessed image of <paramref name="sampleId"/>, or null when the data has no such sample.</summary>
    byte[]? Image(string sampleId);

    /// <summary>Where the images come from, for errors (a dataset directory).</summary>
    string Describe { get; }
}
