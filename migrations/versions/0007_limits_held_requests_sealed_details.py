"""rate counters, held requests, and requests' personal data sealed with keys of their own

- ``rate_counters`` replaces ``login_attempts`` and ``ask_attempts`` (app.limits: one
  atomic counter row per key and window);
- ``support_requests.held``: requests held apart during a flood;
- ``request_keys``: one AES-256-GCM key per request; ``request_details`` and
  ``request_notes`` keep only sealed values. Existing rows are sealed here, with new keys,
  and the old tables are dropped rather than altered, so that on PostgreSQL their files
  (which hold the plaintext, dead rows included) are removed, and on SQLite their pages
  are zeroed (secure_delete).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 17:04:44.398913
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
When = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
DETAIL_FIELDS = ('email', 'name', 'need', 'phone', 'via_member')

# The sealed format of proposals.privacy, written out here so that this migration keeps
# meaning what it meant when the code moves on: nonce (12 bytes) || ciphertext || tag,
# with "commonpurse/request/<id>/<purpose>" as associated data.


def _seal(key: bytes, request_id: int, purpose: str, plaintext: bytes) -> bytes:
    nonce = os.urandom(12)
    associated = f'commonpurse/request/{request_id}/{purpose}'.encode()
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def _unseal(key: bytes, request_id: int, purpose: str, sealed: bytes) -> bytes:
    associated = f'commonpurse/request/{request_id}/{purpose}'.encode()
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], associated)


def _plain_details() -> sa.TableClause:
    return sa.table(
        'request_details',
        sa.column('request_id', BigId),
        *(sa.column(name, sa.Text()) for name in DETAIL_FIELDS),
    )


def _plain_notes() -> sa.TableClause:
    return sa.table(
        'request_notes',
        sa.column('id', BigId),
        sa.column('request_id', BigId),
        sa.column('author_id', BigId),
        sa.column('text', sa.Text()),
        sa.column('created_at', When),
    )


def _sealed_details() -> sa.TableClause:
    return sa.table(
        'request_details', sa.column('request_id', BigId), sa.column('sealed', sa.LargeBinary())
    )


def _sealed_notes() -> sa.TableClause:
    return sa.table(
        'request_notes',
        sa.column('id', BigId),
        sa.column('request_id', BigId),
        sa.column('author_id', BigId),
        sa.column('sealed', sa.LargeBinary()),
        sa.column('created_at', When),
    )


def _keys() -> sa.TableClause:
    return sa.table('request_keys', sa.column('request_id', BigId), sa.column('key', sa.LargeBinary()))


def _create_details_and_notes(*, sealed: bool) -> None:
    if sealed:
        detail_columns = [sa.Column('sealed', sa.LargeBinary(), nullable=False)]
    else:
        detail_columns = [
            sa.Column('name', sa.String(length=120), nullable=False),
            sa.Column('need', sa.Text(), nullable=False),
            sa.Column('phone', sa.String(length=40), nullable=False),
            sa.Column('email', sa.String(length=254), nullable=False),
            sa.Column('via_member', sa.String(length=200), nullable=False),
        ]
    op.create_table('request_details',
    sa.Column('request_id', BigId, nullable=False),
    *detail_columns,
    sa.ForeignKeyConstraint(['request_id'], ['support_requests.id'], name=op.f('fk_request_details_request_id_support_requests')),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_request_details'))
    )
    op.create_table('request_notes',
    sa.Column('id', BigId, nullable=False),
    sa.Column('request_id', BigId, nullable=False),
    sa.Column('author_id', BigId, nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False) if sealed else sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', When, nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_request_notes_author_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['support_requests.id'], name=op.f('fk_request_notes_request_id_support_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_notes'))
    )
    with op.batch_alter_table('request_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_notes_request_id'), ['request_id'], unique=False)


def _drop_details_and_notes() -> None:
    with op.batch_alter_table('request_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_notes_request_id'))
    op.drop_table('request_notes')
    op.drop_table('request_details')


def _reset_note_ids(count: int) -> None:
    """PostgreSQL: the recreated table's id sequence continues after the copied ids."""
    if op.get_bind().dialect.name == 'postgresql' and count:
        op.execute(
            "SELECT setval(pg_get_serial_sequence('request_notes', 'id'), "
            "(SELECT max(id) FROM request_notes))"
        )


def upgrade() -> None:
    op.create_table('rate_counters',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('started_at', When, nullable=False),
    sa.Column('expires_at', When, nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_counters'))
    )
    with op.batch_alter_table('rate_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_counters_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('ask_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_ask_attempts_address')
        batch_op.drop_index('ix_ask_attempts_recent')
    op.drop_table('ask_attempts')
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempts_address')
        batch_op.drop_index('ix_login_attempts_attempted_at')
        batch_op.drop_index('ix_login_attempts_email')
    op.drop_table('login_attempts')

    # A plain ADD COLUMN on both engines: batch mode would rebuild the table on SQLite,
    # which the requests' details and notes refer to.
    op.add_column('support_requests', sa.Column('held', sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table('request_keys',
    sa.Column('request_id', BigId, nullable=False),
    sa.Column('key', sa.LargeBinary(length=32), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['support_requests.id'], name=op.f('fk_request_keys_request_id_support_requests')),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_request_keys'))
    )

    bind = op.get_bind()
    details = bind.execute(sa.select(_plain_details())).mappings().all()
    notes = bind.execute(sa.select(_plain_notes())).mappings().all()
    _drop_details_and_notes()
    _create_details_and_notes(sealed=True)
    keys = {
        request_id: os.urandom(32)
        for request_id in sorted({row['request_id'] for row in (*details, *notes)})
    }
    if keys:
        op.bulk_insert(_keys(), [{'request_id': r, 'key': k} for r, k in keys.items()])
    if details:
        op.bulk_insert(_sealed_details(), [
            {
                'request_id': row['request_id'],
                'sealed': _seal(
                    keys[row['request_id']],
                    row['request_id'],
                    'details',
                    json.dumps(
                        {name: row[name] or '' for name in DETAIL_FIELDS},
                        ensure_ascii=False,
                        sort_keys=True,
                    ).encode(),
                ),
            }
            for row in details
        ])
    if notes:
        op.bulk_insert(_sealed_notes(), [
            {
                'id': row['id'],
                'request_id': row['request_id'],
                'author_id': row['author_id'],
                'sealed': _seal(keys[row['request_id']], row['request_id'], 'note', row['text'].encode()),
                'created_at': row['created_at'],
            }
            for row in notes
        ])
    _reset_note_ids(len(notes))


def downgrade() -> None:
    bind = op.get_bind()
    keys = {row['request_id']: row['key'] for row in bind.execute(sa.select(_keys())).mappings()}
    details = bind.execute(sa.select(_sealed_details())).mappings().all()
    notes = bind.execute(sa.select(_sealed_notes())).mappings().all()
    _drop_details_and_notes()
    _create_details_and_notes(sealed=False)
    plain_details = [
        {'request_id': row['request_id'], **json.loads(_unseal(keys[row['request_id']], row['request_id'], 'details', row['sealed']))}
        for row in details
        if row['request_id'] in keys
    ]
    if plain_details:
        op.bulk_insert(_plain_details(), plain_details)
    plain_notes = [
        {
            'id': row['id'],
            'request_id': row['request_id'],
            'author_id': row['author_id'],
            'text': _unseal(keys[row['request_id']], row['request_id'], 'note', row['sealed']).decode(),
            'created_at': row['created_at'],
        }
        for row in notes
        if row['request_id'] in keys
    ]
    if plain_notes:
        op.bulk_insert(_plain_notes(), plain_notes)
    _reset_note_ids(len(plain_notes))
    op.drop_table('request_keys')

    # A plain DROP COLUMN on both engines (SQLite 3.35 and later, which the rate counters'
    # RETURNING needs too): a batch rebuild would fail on the rows that refer to the table.
    op.drop_column('support_requests', 'held')

    op.create_table('login_attempts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('email_digest', sa.String(length=64), nullable=False),
    sa.Column('address_digest', sa.String(length=64), nullable=False),
    sa.Column('attempted_at', When, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts'))
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempts_address', ['address_digest', 'attempted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_attempts_attempted_at'), ['attempted_at'], unique=False)
        batch_op.create_index('ix_login_attempts_email', ['email_digest', 'attempted_at'], unique=False)

    op.create_table('ask_attempts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('group_id', BigId, nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', When, nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_ask_attempts_group_id_groups')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ask_attempts'))
    )
    with op.batch_alter_table('ask_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ask_attempts_address'), ['address'], unique=False)
        batch_op.create_index('ix_ask_attempts_recent', ['group_id', 'at'], unique=False)

    with op.batch_alter_table('rate_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_counters_expires_at'))
    op.drop_table('rate_counters')
