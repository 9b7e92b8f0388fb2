"""Shipped scenarios through the real chat, with scripted answers that should pass and ones
that should fail: the checks catch a wrong due time, a missing batch call, a guess where a
question was needed, and they hold across turns and for another user's task."""

from __future__ import annotations

from testkit.fake_llm import Reply, ToolCall
from tests.server.evals.conftest import listed, said_number, tool_results


def calls(*tool_calls: ToolCall) -> Reply:
    return Reply(tool_calls=list(tool_calls))


async def test_a_due_time_said_in_words_resolves_at_the_scenarios_time(run, fake_llm):
    add = ToolCall("add_task", {"title": "Call mom", "due": "tomorrow 5pm"})
    fake_llm.rule("call mom", calls(add), "Added: call mom, tomorrow at 17:00.")

    result = await run("remind-call-mom")

    assert result.passed, result.failures
    [turn] = result.turns
    assert [call.name for call in turn.tool_calls] == ["add_task"]
    assert turn.tool_calls[0].ok is True
    assert turn.rounds == 2
    assert turn.prompt_tokens > 0 and turn.completion_tokens > 0


async def test_a_wrong_due_time_is_caught(run, fake_llm):
    add = ToolCall("add_task", {"title": "Call mom", "due": "tomorrow 6pm"})
    fake_llm.rule("call mom", calls(add), "Added.")

    result = await run("remind-call-mom")

    assert result.failures == [
        "task 'mom': due Fri 2026-03-06 18:00, expected Fri 2026-03-06 17:00"
    ]


async def test_the_offset_from_before_a_dst_change_is_caught(run, fake_llm):
    def reschedule(offset: str):
        def answer(body):
            [dentist] = listed(body)
            due = f"2026-03-30T15:00{offset}"
            return calls(ToolCall("update_task", {"task_id": dentist["id"], "due": due}))

        return answer

    find = calls(ToolCall("list_tasks", {"query": "dentist"}))
    fake_llm.rule("dentist", find, reschedule(""), "Moved to Monday 15:00.")
    assert (await run("dst-spring-forward-reschedule")).passed

    fake_llm.reset()
    # Paris is UTC+1 until Sunday 29 March, UTC+2 from then on.
    fake_llm.rule("dentist", find, reschedule("+01:00"), "Moved to Monday 15:00.")
    result = await run("dst-spring-forward-reschedule")
    assert result.failures == [
        "task 'dentist': due Mon 2026-03-30 16:00, expected Mon 2026-03-30 15:00"
    ]


def _errands():
    return calls(ToolCall("list_tasks", {"tag": "errands"}))


async def test_moving_errands_with_one_batch_call_passes(run, fake_llm):
    def batch(body):
        updates = [{"task_id": task["id"], "due": "saturday 10am"} for task in listed(body)]
        return calls(ToolCall("update_tasks", {"updates": updates}))

    fake_llm.rule("errands", _errands(), batch, "All three are due Saturday.")

    result = await run("move-errands-to-saturday")

    assert result.passed, result.failures
    assert [call.name for call in result.turns[0].tool_calls] == ["list_tasks", "update_tasks"]


async def test_a_missing_batch_call_is_caught(run, fake_llm):
    def one_by_one(body):
        return calls(
            *(
                ToolCall("update_task", {"task_id": task["id"], "due": "saturday 10am"})
                for task in listed(body)
            )
        )

    fake_llm.rule("errands", _errands(), one_by_one, "All three are due Saturday.")

    result = await run("move-errands-to-saturday")

    # The tasks did move: only the way it was done fails.
    assert result.failures == [
        "update_tasks was not called successfully "
        "(called: list_tasks, update_task, update_task, update_task)",
        "update_task was called (called: list_tasks, update_task, update_task, update_task)",
    ]


async def test_asking_which_task_is_meant_passes(run, fake_llm):
    find = calls(ToolCall("list_tasks", {"query": "dentist"}))
    fake_llm.rule("dentist", find, "Two tasks match: book the check-up, pay the bill. Which one?")

    result = await run("ambiguous-delete-asks")

    assert result.passed, result.failures


async def test_a_guess_where_a_question_was_needed_is_caught(run, fake_llm):
    def guess(body):
        first = listed(body)[0]
        return calls(ToolCall("delete_task", {"task_id": first["id"]}))

    find = calls(ToolCall("list_tasks", {"query": "dentist"}))
    fake_llm.rule("dentist", find, guess, "Deleted it.")

    result = await run("ambiguous-delete-asks")

    assert result.failures == ["changed tasks instead of asking (called: list_tasks, delete_task)"]


async def test_a_question_that_is_not_asked_is_caught(run, fake_llm):
    find = calls(ToolCall("list_tasks", {"query": "dentist"}))
    fake_llm.rule("dentist", find, "You have two dentist tasks.")

    result = await run("ambiguous-delete-asks")

    assert result.failures == ["did not ask a question: 'You have two dentist tasks.'"]


async def test_another_users_task_id_changes_nothing(run, fake_llm):
    def complete(body):
        return calls(ToolCall("complete_task", {"task_id": said_number(body)}))

    fake_llm.rule("complete task", complete, "There is no such task.")

    result = await run("other-users-task-complete-refused")

    assert result.passed, result.failures
    [call] = result.turns[0].tool_calls
    assert call.ok is False and "not found" in call.error


async def test_undo_restores_the_task_deleted_in_the_turn_before(run, fake_llm):
    def delete(body):
        [gym] = listed(body)
        return calls(ToolCall("delete_task", {"task_id": gym["id"]}))

    def restore(body):
        deleted = tool_results(body)[-1]
        return calls(ToolCall("restore_task", {"task_id": deleted["id"]}))

    fake_llm.rule("gym", calls(ToolCall("list_tasks", {"query": "gym"})), delete, "Deleted.")
    fake_llm.rule("undo", restore, "Restored it.")

    result = await run("undo-delete")

    assert result.passed, result.failures
    assert [turn.rounds for turn in result.turns] == [3, 2]


async def test_a_turns_own_checks_run_after_that_turn(run, fake_llm):
    # Nothing is deleted in the first turn, so restoring in the second proves nothing.
    fake_llm.rule("gym", "Which gym task?")
    fake_llm.rule("undo", "Nothing to undo.")

    result = await run("undo-delete")

    assert result.failures == [
        "turn 1: task 'gym': is not deleted",
        "restore_task was not called successfully (called: no tool)",
    ]


async def test_whats_next_names_the_top_of_the_ranking_at_the_scenarios_time(run, fake_llm):
    def answer(body):
        [ranking] = tool_results(body)
        top = ranking["tasks"][0]
        return f"First: {top['task']['title']} ({', '.join(top['reasons'])})."

    fake_llm.rule("what should i do", calls(ToolCall("whats_next", {})), answer)

    result = await run("whats-next")

    assert result.passed, result.failures
    # On 5 March the grant report (due the 4th) is overdue, whatever today is.
    assert "overdue" in result.turns[0].reply


async def test_a_provider_failure_fails_the_scenario_with_its_message(run, fake_llm):
    fake_llm.rule("call mom", Reply(status=400))

    result = await run("remind-call-mom")

    assert len(result.failures) == 1
    assert result.failures[0].startswith("turn 1: the chat failed: The provider rejected")
