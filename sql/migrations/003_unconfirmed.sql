-- A message whose whole text went to the relay but whose final reply never
-- came (the session was cut or the wait ran out): the relay may have it
-- (RFC 5321 §4.5.3.2.6).  Sending it again by itself could give the member
-- two copies, so the mailer leaves such a row alone; `pwreset-ctl mail
-- retry` queues it again when an operator decides to.
ALTER TABLE mail_outbox ADD COLUMN unconfirmed_at timestamptz;
