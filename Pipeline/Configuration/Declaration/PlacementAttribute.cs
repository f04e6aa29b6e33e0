namespace Distill.Pipeline.Configuration.Declaration;

/// <summary>Which decoder layers get a component (<see cref="LayerPlacementKey"/>); bound to the sorted layer list,
/// or null for <see cref="LayerPlacementKey.EveryOther"/>.</summary>
public sealed class PlacementAttribute : KeyAttribute
{
    public override SchemaKey Declare(string path) => new LayerPlacementKey(path, Description);
}
