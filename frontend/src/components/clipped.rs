use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Element, ResizeObserver};
use yew::prelude::*;

/// A box of fixed size (a card's body) whose content is cut at its bottom
/// edge rather than growing it: when something is cut, the bottom fades out
/// (class `clip--cut`) and, for counted content, a "+N more" line follows.
///
/// Where the content is cut depends on the layout (fonts, card size, wrapped
/// lines), so it is measured in the DOM, by a `ResizeObserver`, which reports
/// after the browser's own layout (reading sizes then costs nothing):
/// whenever the box changes size (window, fonts, the "+N more" line taking
/// its room), and whenever what it holds may cut differently. For content
/// that is only cut or not (a number, a chart), that is when the content's
/// element changes height: the observer watches it too, and a new value of
/// the same height costs nothing. Counted content (which rows are cut) can
/// change with its height unchanged, so it is measured after every render.
/// The hidden items stay in the DOM, so assistive technology reads them all;
/// "+N more" is for the eye only.
///
/// A hook of the card rather than a component of its own: a card renders
/// when its value changed, and a component between it and its content would
/// render with it every time, for nothing of its own.
///
/// `count`: count what is cut, the items of the content's first element (the
/// rows of a list, the lines of a log) that do not show in full.
///
/// DOM contract: `.more` holds "+N more".
#[hook]
pub fn use_clip(count: bool) -> Clip {
    let node = use_node_ref();
    // None: everything shows; Some(n): cut, with n items not shown in full.
    let cut = use_state_eq(|| None::<usize>);
    let observer = use_mut_ref(|| None::<ResizeObserver>);
    // Read by the observer when it reports: a card whose widget changes kind
    // (a number becoming a list) starts or stops counting.
    let counted = use_mut_ref(|| count);
    *counted.borrow_mut() = count;
    // The content element watched besides the box (uncounted content only).
    let content = use_mut_ref(|| None::<Element>);
    {
        let (node, cut, observer, counted) = (
            node.clone(),
            cut.setter(),
            observer.clone(),
            counted.clone(),
        );
        use_effect_with((), move |_| {
            let element = node.cast::<Element>();
            let on_resize = {
                let element = element.clone();
                Closure::<dyn FnMut()>::new(move || {
                    if let Some(element) = &element {
                        cut.set(measure(element, *counted.borrow()));
                    }
                })
            };
            *observer.borrow_mut() = ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok();
            if let (Some(observer), Some(element)) = (&*observer.borrow(), &element) {
                observer.observe(element);
            }
            move || {
                if let Some(observer) = observer.borrow_mut().take() {
                    observer.disconnect();
                }
                drop(on_resize);
            }
        });
    }
    {
        let (node, observer) = (node.clone(), observer.clone());
        // No dependencies: after every render. Measuring here instead of in
        // the observer would read sizes between the DOM writes of the cards
        // rendered after this one: a forced layout per changed card (~130 a
        // frame on a 200-widget dashboard, against one). It converges:
        // showing "+N more" only shrinks the box, so a second measure can
        // only count as many or more, and an equal count does not re-render.
        use_effect(move || {
            let (Some(observer), Some(element)) = (&*observer.borrow(), node.cast::<Element>())
            else {
                return;
            };
            if count {
                // Observing the box afresh makes the observer report it once
                // more, after the browser's next layout.
                observer.unobserve(&element);
                observer.observe(&element);
                return;
            }
            // The content's element is replaced only when its kind changes.
            let first = element.first_element_child();
            let mut watched = content.borrow_mut();
            if *watched != first {
                if let Some(old) = watched.as_ref() {
                    observer.unobserve(old);
                }
                if let Some(new) = &first {
                    observer.observe(new);
                }
                *watched = first;
            }
        });
    }
    Clip { node, cut: *cut }
}

/// What [`use_clip`] measured, and the box it measures.
pub struct Clip {
    node: NodeRef,
    /// None: everything shows; Some(n): cut, with n items not shown in full.
    cut: Option<usize>,
}

impl Clip {
    /// The box, with class `class`, holding `content`; and "+N more" after
    /// it when counted items are cut.
    pub fn render(&self, class: &'static str, content: Html) -> Html {
        let hidden = self.cut.filter(|hidden| *hidden > 0);
        html! {
            <>
                <div ref={self.node.clone()} class={classes!(class, self.cut.is_some().then_some("clip--cut"))}>
                    { content }
                </div>
                if let Some(hidden) = hidden {
                    <p class="more" aria-hidden="true">{ format!("+{hidden} more") }</p>
                }
            </>
        }
    }
}

/// Whether `clip`'s content is cut, and (when `count`) how many items of its
/// first element end below its bottom edge.
fn measure(clip: &Element, count: bool) -> Option<usize> {
    // A pixel of slack: sub-pixel layout rounds scrollHeight up.
    if clip.scroll_height() <= clip.client_height() + 1 {
        return None;
    }
    if !count {
        return Some(0);
    }
    let bottom = clip.get_bounding_client_rect().bottom() + 0.5;
    let Some(items) = clip.first_element_child().map(|list| list.children()) else {
        return Some(0);
    };
    // Items stack top to bottom, so the cut ones are a tail: find where it
    // starts by bisection, reading a few positions rather than all (a log
    // keeps 200 lines).
    let ends_below = |i: u32| {
        items
            .item(i)
            .is_some_and(|item| item.get_bounding_client_rect().bottom() > bottom)
    };
    let (mut low, mut high) = (0, items.length());
    while low < high {
        let middle = low + (high - low) / 2;
        if ends_below(middle) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    Some((items.length() - low) as usize)
}
