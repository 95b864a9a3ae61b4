"""Listing sources (the ListingSource port) for a backfill: an S3 bucket, an S3 Inventory report."""
