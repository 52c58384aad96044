// The console's few behaviours beyond htmx. The pages work without this file.
