"""Small apps that show the server's services in use (paid_api: a route behind the 402 paywall)."""
