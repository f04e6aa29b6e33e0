using SkiaSharp;

namespace Distill.Stages.Data;

/// <summary>Draws a scene with SkiaSharp onto a plain light background and encodes it as PNG.</summary>
public static class ShapesRenderer
{
    public static byte[] RenderPng(ShapesScene scene, int imageSize)
    {
        var info = new SKImageInfo(imageSize, imageSize, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bitmap = new SKBitmap(info);
        using (var canvas = new SKCanvas(bitmap))
        {
            var bg = ShapesVocabulary.Background;
            canvas.Clear(new SKColor(bg.R, bg.G, bg.B));
            float cell = imageSize / (float)ShapesVocabulary.GridSize;
            foreach (var o in scene.Objects)
                Draw(canvas, o, cell);
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"PNG encoding failed for scene {scene.Id}");
        return data.ToArray();
    }

    private static void Draw(SKCanvas canvas, SceneObject o, float cell)
    {
        var rgb = ShapesVocabulary.Rgb(o.Colour);
        using var paint = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill, Color = new SKColor(rgb.R, rgb.G, rgb.B) };
        float r = (o.Size == "large" ? SceneSampler.LargeRadius : SceneSampler.SmallRadius) * cell;
        switch (o.Shape)
        {
            case "circle":
                canvas.DrawCircle(o.X, o.Y, r, paint);
                break;
            case "square":
                float h = r * 0.85f; // about the circle's area
                canvas.DrawRect(o.X - h, o.Y - h, 2 * h, 2 * h, paint);
                break;
            case "triangle":
                DrawPolygon(canvas, paint, (o.X, o.Y - r), (o.X + r * 0.866f, o.Y + r * 0.5f), (o.X - r * 0.866f, o.Y + r * 0.5f));
                break;
            case "diamond":
                DrawPolygon(canvas, paint, (o.X, o.Y - r), (o.X + r * 0.7f, o.Y), (o.X, o.Y + r), (o.X - r * 0.7f, o.Y));
                break;
            default:
                throw new ArgumentException($"Unknown shape '{o.Shape}'; allowed: {string.Join(", ", ShapesVocabulary.Shapes)}");
        }
    }

    private static void DrawPolygon(SKCanvas canvas, SKPaint paint, params (float X, float Y)[] points)
    {
        using var path = new SKPath();
        path.MoveTo(points[0].X, points[0].Y);
        foreach (var p in points.Skip(1)) path.LineTo(p.X, p.Y);
        path.Close();
        canvas.DrawPath(path, paint);
    }
}
