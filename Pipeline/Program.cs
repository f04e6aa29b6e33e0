return 0; // placeholder: the CLI lands with the Pipeline work
