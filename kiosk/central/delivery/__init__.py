"""Central's delivery outbox: TL notifications through Apprise, the returned-invoice
list for billing (CSV in a folder and/or a JSON POST), and the follow-up workbook into a folder.

    kiosk central deliver --once [--db CENTRAL]      # one pass, exits (tests, cron)
    delivery.worker.run(config, db_path, stop_event) # the loop inside `kiosk central`
    delivery.state.alert_notifications(db, alert_id) # per alert and target: pending/delivered/failing
    delivery.state.summary(db)                       # for `kiosk central --gaps`/status

See `outbox` for how deliveries are derived durably from central's stored rows.
"""
