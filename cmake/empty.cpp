// Placeholder translation unit: a library whose folder has no sources yet still links.
