"""The team lead's web app at central: pages in Swedish over central's database.

`app.create_app` (Starlette), `state.alert_states` (what a kiosk's screen shows from the TLs),
`auth` (users, throttling, audit), `views` (page data), `charts` (SVG), `cli` (`kiosk web`,
`kiosk web-user`)."""
