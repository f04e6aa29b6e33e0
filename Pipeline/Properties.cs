using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Distill.Pipeline.Tests")]
