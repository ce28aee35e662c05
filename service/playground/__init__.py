"""The playground page (GET /playground): its static files, shipped sample motions and drawing bones."""
