//! An advisor's booking questions.

use super::{Result, Store};
use crate::domain::questions::{Kind, Question};

#[derive(sqlx::FromRow)]
struct QuestionRow {
    id: i64,
    label: String,
    kind: String,
    choices: String,
    #[sqlx(try_from = "super::DbBool")]
    required: bool,
}

impl Store {
    /// The advisor's own questions (`block = None`) or one block's.
    pub async fn booking_questions(&self, advisor_id: i64, block: Option<i64>) -> Result<Vec<Question>> {
        let rows: Vec<QuestionRow> = sqlx::query_as(
            "SELECT id, label, kind, choices, required FROM booking_questions \
             WHERE advisor_id = $1 AND COALESCE(block_id, 0) = $2 AND offering_id IS NULL ORDER BY position",
        )
        .bind(advisor_id)
        .bind(block.unwrap_or(0))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(question_of).collect())
    }

    /// One offering's own questions (none: it asks the advisor's).
    pub async fn offering_questions(&self, offering_id: i64) -> Result<Vec<Question>> {
        let rows: Vec<QuestionRow> = sqlx::query_as(
            "SELECT id, label, kind, choices, required FROM booking_questions WHERE offering_id = $1 ORDER BY position",
        )
        .bind(offering_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(question_of).collect())
    }

    /// Replaces one offering's questions in one transaction.
    pub async fn save_offering_questions(
        &self,
        advisor_id: i64,
        offering_id: i64,
        questions: &[(String, Kind, bool)],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM booking_questions WHERE offering_id = $1").bind(offering_id).execute(&mut *tx).await?;
        insert_questions(&mut tx, advisor_id, None, Some(offering_id), questions).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Inserts `questions` in order, for a block, an offering or (neither) the
/// advisor's own list.
async fn insert_questions(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    advisor_id: i64,
    block: Option<i64>,
    offering: Option<i64>,
    questions: &[(String, Kind, bool)],
) -> Result<()> {
    for (position, (label, kind, required)) in questions.iter().enumerate() {
        let (kind, choices) = match kind {
            Kind::Text => ("text", String::new()),
            Kind::Choice(choices) => ("choice", choices.join("\n")),
        };
        sqlx::query(
            "INSERT INTO booking_questions (advisor_id, block_id, offering_id, position, label, kind, choices, required) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(advisor_id)
        .bind(block)
        .bind(offering)
        .bind(position as i64)
        .bind(label)
        .bind(kind)
        .bind(choices)
        .bind(*required)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn question_of(r: QuestionRow) -> Question {
    Question {
        id: r.id,
        label: r.label,
        kind: if r.kind == "choice" {
            Kind::Choice(r.choices.lines().map(str::to_string).collect())
        } else {
            Kind::Text
        },
        required: r.required,
    }
}

impl Store {
    /// Replaces an advisor's (or one block's) questions in one transaction.
    pub async fn save_booking_questions(
        &self,
        advisor_id: i64,
        block: Option<i64>,
        questions: &[(String, Kind, bool)],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM booking_questions WHERE advisor_id = $1 AND COALESCE(block_id, 0) = $2 AND offering_id IS NULL",
        )
            .bind(advisor_id)
            .bind(block.unwrap_or(0))
            .execute(&mut *tx)
            .await?;
        insert_questions(&mut tx, advisor_id, block, None, questions).await?;
        tx.commit().await?;
        Ok(())
    }
}
