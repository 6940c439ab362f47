/* SPDX-License-Identifier: MIT */
/*
 * The worked example of protocol/PROTOCOL.md §10: a card code signed
 * with the Ed25519 key of RFC 8037 A.1 (x, kid), issued at IAT for 60 s.
 */
#ifndef CARDD_CODE_EXAMPLE_H
#define CARDD_CODE_EXAMPLE_H

#define A1_X	"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define A1_KID	"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
#define IAT	1796198400
#define GOOD	"eyJhbGciOiJFZERTQSIsImtpZCI6ImtQcktfcW14VldhWVZBOXd3QkY2SXV" \
    "vM3ZWeno3VHhIQ1R3WEJ5Z3JTNGsiLCJ0eXAiOiJjYXJkLWNvZGUrand0In0.eyJpc3M" \
    "iOiJkZW1vLWNhcmQtcGxhdGZvcm0iLCJzdWIiOiIwMDAwMDAwMDAwMDEiLCJpYXQiOjE" \
    "3OTYxOTg0MDAsImV4cCI6MTc5NjE5ODQ2MCwianRpIjoiWm05eUxYUm9aUzFsZUdGdGN" \
    "HeGwifQ.lpYWVym_zWGGFQI9rbGiZVbrzjKABTCJKV_N1_sWdsvA3l1Vb-b5lXV93tZj" \
    "mDljG_R3BtlGcVqWcO4kT_uuDg"

#endif
