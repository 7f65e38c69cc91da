"""What goes out: webhooks to maintenance companies and the county -> city feed."""
