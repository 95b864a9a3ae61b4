"""Where a document's file is for viewing (ports.MediaFiles): a folder on this machine, or S3 through presigned
links; `routing.by_bucket` picks between them as it does for storage."""
