-- The payment gateway's callbacks (IPN): each gateway transaction is counted once, whatever the gateway's retries
-- or a replay; a refused callback writes nothing here.
CREATE TABLE payment_transactions (
    transaction_no     text PRIMARY KEY,            -- the gateway's vnp_TransactionNo
    order_id           text NOT NULL REFERENCES payments (order_id),
    dossier_code       text NOT NULL,
    amount_vnd         integer NOT NULL CHECK (amount_vnd >= 0),
    response_code      text NOT NULL,               -- vnp_ResponseCode
    transaction_status text NOT NULL,               -- vnp_TransactionStatus
    bank_code          text NOT NULL DEFAULT '',
    paid_at            timestamptz NOT NULL,        -- vnp_PayDate
    order_status       text NOT NULL,               -- the order's status when the callback came (a payment on a
                                                    -- cancelled order is one to refund)
    received_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_transactions_order ON payment_transactions (order_id);
