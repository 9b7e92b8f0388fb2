"""`todo-agent eval`: chat scenarios run against the configured model provider through the
real chat path, each in a scratch database, with checks on the state they leave."""
