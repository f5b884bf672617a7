"""The HTTP edge: accepts every tracker request and acknowledges only what is durable."""
